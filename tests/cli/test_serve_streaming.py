"""``modelport serve`` of a streaming model over real HTTP: items as they come, disconnects."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.client import Client
from modelport.errors import InvalidInput, ModelError
from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    port = free_port()
    specs = ["mp_fixtures.streaming:Counter", "mp_fixtures.streaming:AsyncCounter"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "serve", *specs, "--port", str(port)],
        env=subprocess_env(MODELPORT_PREDICT_CONCURRENCY="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        yield url
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    # the model failures asked for are logged with their tracebacks; nothing else went wrong
    for trouble in ("Exception in ASGI application", "never retrieved", "Task was destroyed"):
        assert trouble not in stderr, stderr


def lines_of(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_for(check: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


def test_items_arrive_as_the_model_produces_them(base: str, tmp_path: Path) -> None:
    gate, log = tmp_path / "gate", tmp_path / "log"
    args = {"n": 3, "gate": str(gate), "log": str(log)}
    with httpx.stream("POST", f"{base}/v2/models/counter/predict/", json=args) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/x-ndjson"
        lines = answer.iter_lines()
        assert json.loads(next(lines)) == {"i": 0}
        assert lines_of(log) == ["item 0"]  # the model waits for the gate: nothing buffered
        gate.touch()
        assert [json.loads(line) for line in lines if line] == [{"i": 1}, {"i": 2}]
    wait_for(lambda: lines_of(log)[-1:] == ["closed"])


def test_a_disconnect_stops_the_model(base: str, tmp_path: Path) -> None:
    for model in ("counter", "async-counter"):
        log = tmp_path / f"{model}.log"
        extra = {"delay": 0.05} if model == "counter" else {}
        args = {"n": 100_000, "log": str(log), **extra}
        with httpx.stream("POST", f"{base}/v2/models/{model}/predict/", json=args) as answer:
            lines = answer.iter_lines()
            assert next(lines) in ('{"i":0}', "0")
        wait_for(lambda log=log: lines_of(log)[-1:] == ["closed"])  # type: ignore[misc]
        produced = len(lines_of(log)) - 1
        assert produced < 100_000  # stopped early, at its next item
        time.sleep(0.3)
        assert len(lines_of(log)) - 1 == produced  # and nothing after


def test_server_sent_events_when_asked(base: str) -> None:
    answer = httpx.post(
        f"{base}/v2/models/counter/predict/",
        json={"n": 2},
        headers={"Accept": "text/event-stream"},
    )
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text == 'data: {"i":0}\n\ndata: {"i":1}\n\nevent: end\ndata: {}\n\n'


def test_errors_before_and_after_the_first_item(base: str) -> None:
    early = httpx.post(f"{base}/v2/models/counter/predict/", json={"n": -1})
    assert early.status_code == 422
    assert "n" in early.json()
    first = httpx.post(f"{base}/v2/models/counter/predict/", json={"fail_at": 0})
    assert first.status_code == 500
    assert "ValueError" in first.json()["message"]
    late = httpx.post(f"{base}/v2/models/counter/predict/", json={"n": 3, "fail_at": 1})
    assert late.status_code == 200
    *items, last = [json.loads(line) for line in late.text.splitlines()]
    assert items == [{"i": 0}]
    assert last["status"] == 500
    assert "ValueError" in last["error"]["message"]
    assert "error_id" in last["error"]


def test_the_client_streams(base: str) -> None:
    with Client(base) as client:
        assert list(client.stream("counter", n=3)) == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert list(client.stream("async-counter", n=2)) == [0, 1]
        items = client.stream("counter", n=5, fail_at=2)
        assert [next(items), next(items)] == [{"i": 0}, {"i": 1}]
        with pytest.raises(ModelError, match="ValueError"):
            next(items)
        with pytest.raises(InvalidInput):
            list(client.stream("counter", n="many"))
        # asked for JSON only (as predict and DEEPaaS clients do): every item at once
        assert client.predict("counter", n=2) == [{"i": 0}, {"i": 1}]
