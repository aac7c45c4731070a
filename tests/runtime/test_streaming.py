"""The runtime's streams: produced in a worker thread, stopped when the consumer stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mp_fixtures.streaming import Counter

from modelport.contract.typed import TypedModel
from modelport.errors import Overloaded, PredictTimeout
from modelport.runtime.metrics import ServingMetrics
from modelport.runtime.runner import Limits, ModelRunner

ARGS = {"n": 3, "fail_at": -1, "gate": "", "log": "", "delay": 0.0}


def _runner(**limits: float | None) -> ModelRunner:
    settings = {"concurrency": 1, "queue": 0, "timeout": None, **limits}
    runner = ModelRunner(TypedModel(Counter(), "test"), Limits(**settings), ServingMetrics())  # type: ignore[arg-type]
    runner.ready = True
    return runner


async def test_a_stream_holds_a_worker_until_the_model_lets_go(tmp_path: Path) -> None:
    runner = _runner()
    log = tmp_path / "log"
    items = runner.stream({**ARGS, "n": 1000, "log": str(log)})
    assert await anext(items) == b'{"i":0}'
    assert runner.pending == 1
    with pytest.raises(Overloaded):  # its only worker streams
        runner.stream(ARGS)
    await items.aclose()
    for _ in range(100):
        if runner.pending == 0:
            break
        await asyncio.sleep(0.02)
    assert runner.pending == 0
    assert log.read_text().splitlines()[-1] == "closed"
    assert [item async for item in runner.stream(ARGS)] == [b'{"i":0}', b'{"i":1}', b'{"i":2}']
    runner.close()


async def test_an_item_later_than_the_deadline_ends_the_stream(tmp_path: Path) -> None:
    runner = _runner(timeout=0.2)
    log = tmp_path / "log"
    items = runner.stream({**ARGS, "delay": 1.0, "log": str(log)})
    with pytest.raises(PredictTimeout, match=r"produced nothing for 0\.2 s"):
        await anext(items)
    await items.aclose()
    for _ in range(200):
        if runner.pending == 0:
            break
        await asyncio.sleep(0.02)
    assert runner.pending == 0
    assert log.read_text().splitlines() == ["item 0", "closed"]  # stopped at its next item
    runner.close()
