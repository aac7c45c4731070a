"""Per-model workers, wait queue, deadlines and warm-up."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest

from modelport import Model
from modelport.contract.typed import TypedModel
from modelport.errors import ModelLoadError, ModelNotReady, Overloaded, PredictTimeout
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.runtime.runner import Limits, ModelRunner
from modelport.settings import Settings


class Gate(Model):
    """Blocks until released; records the threads it ran on."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def predict(self, wait: bool = True) -> dict[str, bool]:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.threads.append(threading.current_thread().name)
        if wait:
            self.release.wait(5)
        with self.lock:
            self.running -= 1
        return {"ok": True}


def _runner(model: Model, **limits: Any) -> ModelRunner:
    runner = ModelRunner(
        TypedModel(model, "test"),
        Limits(**{"concurrency": 2, "queue": 1, "timeout": None, **limits}),
        ServingMetrics(),
    )
    runner.ready = True
    return runner


async def test_concurrency_limit_queue_and_overload() -> None:
    gate = Gate()
    runner = _runner(gate)
    tasks = [asyncio.ensure_future(runner.predict({"wait": True})) for _ in range(3)]
    await asyncio.sleep(0.1)
    assert runner.pending == 3
    assert gate.running == 2  # the third waits in the queue
    with pytest.raises(Overloaded) as caught:
        await runner.predict({"wait": False})
    assert caught.value.retry_after >= 1
    gate.release.set()
    results = await asyncio.gather(*tasks)
    assert all(r.content == b'{"ok":true}' for r in results)
    assert gate.peak == 2
    assert runner.pending == 0
    assert all(name.startswith("predict-gate") for name in gate.threads)
    runner.close()


async def test_timeout_keeps_the_slot_until_the_model_returns() -> None:
    gate = Gate()
    runner = _runner(gate, concurrency=1, queue=0, timeout=0.1)
    held: list[Future[Any]] = []

    class Holder:
        def hold_until(self, future: Future[Any]) -> None:
            held.append(future)

    with pytest.raises(PredictTimeout, match=r"0\.1 s"):
        await runner.predict({"wait": True}, inputs=Holder())
    assert runner.pending == 1, "the model is still running: its slot stays taken"
    assert len(held) == 1
    with pytest.raises(Overloaded):
        await runner.predict({"wait": False})
    gate.release.set()
    for _ in range(50):
        if runner.pending == 0:
            break
        await asyncio.sleep(0.02)
    assert runner.pending == 0
    assert held[0].done()
    assert (await runner.predict({"wait": False})).content == b'{"ok":true}'
    runner.close()


async def test_a_queued_request_that_times_out_never_runs() -> None:
    gate = Gate()
    runner = _runner(gate, concurrency=1, queue=5, timeout=0.2)
    first = asyncio.ensure_future(runner.predict({"wait": True}))
    await asyncio.sleep(0.05)
    with pytest.raises(PredictTimeout):
        await runner.predict({"wait": False})
    gate.release.set()
    with pytest.raises(PredictTimeout):
        await first
    await asyncio.sleep(0.1)
    assert len(gate.threads) == 1
    runner.close()


async def test_not_ready_until_warm() -> None:
    runner = _runner(Gate())
    runner.ready = False
    with pytest.raises(ModelNotReady):
        await runner.predict({"wait": False})
    runner.warm()
    assert runner.ready
    assert runner.warm_seconds is not None


def test_warm_failure_names_the_model() -> None:
    class Broken(Model):
        def warm(self) -> None:
            raise FileNotFoundError("weights.pt")

        def predict(self) -> int:
            return 1

    runtime = ModelRuntime([TypedModel(Broken(), "somewhere:Broken")], Settings(), ServingMetrics())
    with pytest.raises(ModelLoadError) as caught:
        runtime.warm_all()
    assert "model 'broken' (somewhere:Broken) failed to warm" in caught.value.message
    assert "FileNotFoundError: weights.pt" in caught.value.message
    assert not runtime.ready


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ModelLoadError, match="two models are named 'gate'"):
        ModelRuntime(
            [TypedModel(Gate(), "a"), TypedModel(Gate(), "b")], Settings(), ServingMetrics()
        )


async def test_slow_model_does_not_block_the_event_loop() -> None:
    gate = Gate()
    runner = _runner(gate)
    task = asyncio.ensure_future(runner.predict({"wait": True}))
    started = time.perf_counter()
    await asyncio.sleep(0.05)  # the loop keeps turning while the model blocks its thread
    assert time.perf_counter() - started < 1
    gate.release.set()
    await task
    runner.close()
