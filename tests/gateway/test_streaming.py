"""A streaming catalog module through the platform (``modelport up``): the platform's app on a
real server on 127.0.0.1, the module in a real worker process; items pass as they come, and a
client that leaves stops the model in the worker."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from modelport.apps.platform import build_platform
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.client import Client
from modelport.errors import ModelError
from modelport.settings import Settings
from tests.gateway.conftest import GatewayFactory, eventually, publish
from tests.gateway.test_oip import running

pytestmark = pytest.mark.slow

COUNTER = "mp_fixtures.streaming:Counter"


def lines_of(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_for(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


def test_a_streaming_module_streams_through_the_gateway(tmp_path: Path) -> None:
    # the worker sees only its own directories: the model's files live in its state directory
    settings = Settings(data_dir=tmp_path / "data", sandbox="none")
    catalog = build_catalog_service(settings)
    publish(catalog, "counter", COUNTER)
    app, _ = build_platform(settings, seed=False)
    gate, log = tmp_path / "gate", tmp_path / "log"
    with running(app) as address:
        base = f"http://{address}"
        args = {"n": 3, "gate": str(gate), "log": str(log)}
        with httpx.stream("POST", f"{base}/v2/models/counter/predict/", json=args) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/x-ndjson"
            assert answer.headers["x-modelport-model-version"] == "1.0.0"
            lines = answer.iter_lines()
            assert json.loads(next(lines)) == {"i": 0}
            assert lines_of(log) == ["item 0"]  # held by the gate: passed on unbuffered
            gate.touch()
            assert [json.loads(line) for line in lines if line] == [{"i": 1}, {"i": 2}]

        stopped = tmp_path / "stopped"
        args = {"n": 100_000, "delay": 0.05, "log": str(stopped)}
        with httpx.stream("POST", f"{base}/v2/models/counter/predict/", json=args) as answer:
            assert next(answer.iter_lines()) == '{"i":0}'
        wait_for(lambda: lines_of(stopped)[-1:] == ["closed"])  # the worker's model stopped
        assert len(lines_of(stopped)) < 100_000

        sse = httpx.post(
            f"{base}/v2/models/counter/predict/",
            json={"n": 1},
            headers={"Accept": "text/event-stream"},
        )
        assert sse.text == 'data: {"i":0}\n\nevent: end\ndata: {}\n\n'
        with Client(base) as client:
            assert list(client.stream("counter", n=2)) == [{"i": 0}, {"i": 1}]
            failing = client.stream("counter", version="1.0.0", n=3, fail_at=1)
            assert next(failing) == {"i": 0}
            with pytest.raises(ModelError, match="ValueError"):
                next(failing)
            assert client.predict("counter", n=2) == [{"i": 0}, {"i": 1}]  # JSON: all at once


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_the_worker_is_busy_until_the_stream_ends_or_is_dropped(
    gateway: GatewayFactory, catalog: CatalogService, tmp_path: Path
) -> None:
    publish(catalog, "counter", COUNTER)
    gw = await gateway()
    pool = gw.pool
    path = "/v2/models/counter/predict/"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode()}
    scope["query_string"] = b""
    scope["headers"] = [(b"content-type", b"application/json")]
    log = tmp_path / "log"
    body = json.dumps({"n": 100_000, "delay": 0.01, "log": str(log)}).encode()

    answer = await pool.call("counter", "latest", scope, _body(body))
    assert answer.stream is not None
    assert answer.body == b""
    assert await anext(answer.stream) == b'{"i":0}\n'
    (worker,) = pool.loaded()
    assert worker.in_flight == 1  # streaming: neither idle nor free
    await answer.stream.aclose()  # the caller left
    assert pool.loaded()[0].in_flight == 0
    await eventually(lambda: lines_of(log)[-1:] == ["closed"])  # the worker stopped the model

    dropped_log = tmp_path / "dropped"
    body = json.dumps({"n": 100_000, "delay": 0.01, "log": str(dropped_log)}).encode()
    answer = await pool.call("counter", "latest", scope, _body(body))
    assert pool.loaded()[0].in_flight == 1
    del answer  # never read (its caller went away before the first part)
    assert pool.loaded()[0].in_flight == 0
    await eventually(lambda: lines_of(dropped_log)[-1:] == ["closed"])

    answer = await pool.call("counter", "latest", scope, _body(b'{"n": 2}'))
    assert answer.stream is not None
    assert [part async for part in answer.stream] == [b'{"i":0}\n', b'{"i":1}\n']
    assert pool.loaded()[0].in_flight == 0


async def test_a_stream_may_not_run_far_ahead_of_a_slow_caller(
    gateway: GatewayFactory, catalog: CatalogService, tmp_path: Path
) -> None:
    publish(catalog, "counter", COUNTER)
    gw = await gateway(max_worker_frame=64 * 1024)  # what a caller may leave unread
    path = "/v2/models/counter/predict/"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode()}
    scope.update(query_string=b"", headers=[(b"content-type", b"application/json")])
    log = tmp_path / "log"
    body = json.dumps({"n": 100_000, "log": str(log)}).encode()
    answer = await gw.pool.call("counter", "latest", scope, _body(body))
    assert answer.stream is not None
    await eventually(lambda: lines_of(log)[-1:] == ["closed"])  # unread: the worker was stopped
    assert len(lines_of(log)) < 100_000
    received: list[bytes] = []

    async def read_all() -> None:
        async for part in answer.stream:  # type: ignore[union-attr]
            received.append(part)

    with pytest.raises(ModelError, match="ahead of its caller"):
        await read_all()
    assert 0 < sum(map(len, received)) <= 64 * 1024
    assert gw.pool.loaded()[0].in_flight == 0
