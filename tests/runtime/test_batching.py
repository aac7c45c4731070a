"""The runtime's adaptive batching: concurrent requests merged, answered one by one."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from mp_fixtures.batched import Tally

from modelport import Model, batch
from modelport.contract.typed import TypedModel
from modelport.errors import ModelError, PredictTimeout
from modelport.runtime.metrics import ServingMetrics
from modelport.runtime.runner import Limits, ModelRunner


def _runner(model: Tally, **limits: Any) -> tuple[ModelRunner, ServingMetrics]:
    metrics = ServingMetrics()
    runner = ModelRunner(
        TypedModel(model, "test"),
        Limits(**{"concurrency": 1, "queue": 4, "timeout": None, **limits}),
        metrics,
    )
    runner.ready = True
    return runner, metrics


def _sample(metrics: ServingMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"model": "tally"})
    return value or 0.0


async def test_concurrent_requests_are_merged_and_each_gets_its_own_answer() -> None:
    model = Tally()
    runner, metrics = _runner(model)
    assert runner.capacity == 1 * 8 + 4
    answers = await asyncio.gather(*(runner.predict({"n": n, "delay": 0.05}) for n in range(12)))
    assert [a.content for a in answers] == [str(2 * n).encode() for n in range(12)]
    assert sorted(n for b in model.batches for n in b) == list(range(12))
    assert len(model.batches) < 12
    assert max(len(b) for b in model.batches) == 8
    assert _sample(metrics, "modelport_batch_size_count") == len(model.batches)
    assert _sample(metrics, "modelport_batch_size_sum") == 12
    assert _sample(metrics, "modelport_batch_queue_wait_seconds_count") == 12
    assert runner.pending == 0
    runner.close()


async def test_a_failing_request_fails_alone() -> None:
    model = Tally()
    runner, _ = _runner(model)
    results = await asyncio.gather(
        *(runner.predict({"n": n, "delay": 0}) for n in (1, -2, 13, 4)), return_exceptions=True
    )
    assert results[0].content == b"2"  # type: ignore[union-attr]
    assert isinstance(results[1], ModelError)
    assert "negative" in results[1].message
    assert isinstance(results[2], ModelError)
    assert "13" in results[2].message
    assert results[3].content == b"8"  # type: ignore[union-attr]
    runner.close()


async def test_a_request_past_its_deadline_leaves_the_queue() -> None:
    model = Tally()
    runner, _ = _runner(model, timeout=0.3)
    slow = asyncio.ensure_future(runner.predict({"n": 1, "delay": 1.0}))
    await asyncio.sleep(0.1)  # the slow batch holds the only worker
    with pytest.raises(PredictTimeout):
        await runner.predict({"n": 2, "delay": 0})
    assert [2] not in model.batches  # withdrawn before it ran
    with pytest.raises(PredictTimeout):
        await slow
    assert runner.pending == 1  # the running batch keeps its slot until the model returns
    for _ in range(50):
        if runner.pending == 0:
            break
        await asyncio.sleep(0.05)
    assert runner.pending == 0
    assert model.batches == [[1]]
    runner.close()


async def test_a_cancelled_caller_is_withdrawn_from_its_batch() -> None:
    model = Tally()
    runner, _ = _runner(model)
    first = asyncio.ensure_future(runner.predict({"n": 1, "delay": 0.3}))
    await asyncio.sleep(0.1)
    gone = asyncio.ensure_future(runner.predict({"n": 5, "delay": 0}))
    await asyncio.sleep(0.05)
    gone.cancel()  # the client disconnected while queued
    kept = await runner.predict({"n": 6, "delay": 0})
    assert kept.content == b"12"
    assert (await first).content == b"2"
    assert 5 not in [n for b in model.batches for n in b]
    runner.close()


class Peak(Model):
    """Records how many of its batches run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def call(self, n: list[int]) -> list[int]:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.1)
        with self.lock:
            self.running -= 1
        return n


class OneAtATime(Peak):
    @batch(max_size=2, max_wait_ms=0)
    def predict(self, n: list[int]) -> list[int]:
        return self.call(n)


class TwoAtATime(Peak):
    @batch(max_size=2, max_wait_ms=0, concurrency=2)
    def predict(self, n: list[int]) -> list[int]:
        return self.call(n)


@pytest.mark.parametrize(("model", "peak"), [(OneAtATime, 1), (TwoAtATime, 2)])
async def test_batches_run_one_at_a_time_unless_asked(model: type[Peak], peak: int) -> None:
    instance = model()
    runner = ModelRunner(TypedModel(instance, "test"), Limits(4, 8, None), ServingMetrics())
    runner.ready = True
    assert runner.capacity == peak * 2 + 8
    answers = await asyncio.gather(*(runner.predict({"n": n}) for n in range(8)))
    assert [a.content for a in answers] == [str(n).encode() for n in range(8)]
    assert instance.peak == peak  # never more, though the server allows 4 workers
    runner.close()
