"""Prediction execution: a worker pool per model, a bounded wait queue, deadlines.

Model code never runs on the event loop: each model gets its own thread pool of
``predict_concurrency`` workers, so a slow model cannot take slots from another. Requests
beyond the workers wait in a queue of at most ``predict_queue``; past that they are refused at
once (503 + Retry-After) instead of piling up. A prediction past ``predict_timeout`` answers
504; its worker stays counted as busy until the model returns, so the limit stays honest.
Training never runs here: it belongs to the job executors (separate processes), so it can
never starve predictions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from modelport.contract.base import Prediction, RawArgs, ServedModel
from modelport.errors import ModelLoadError, ModelNotReady, NotFound, Overloaded, PredictTimeout
from modelport.runtime.batching import Batcher
from modelport.runtime.metrics import ServingMetrics
from modelport.runtime.streaming import stream_from_thread
from modelport.settings import Settings

log = logging.getLogger(__name__)


class InputHolder(Protocol):
    """Something owning a prediction's input files (the request's upload area)."""

    def hold_until(self, future: Future[Any] | asyncio.Future[Any]) -> None:
        """Keep the inputs until ``future`` is done."""


@dataclass(frozen=True)
class Limits:
    """Per-model execution limits."""

    concurrency: int
    queue: int
    timeout: float | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits a Settings object configures."""
        return cls(settings.predict_concurrency, settings.predict_queue, settings.predict_timeout)


def warm_model(model: ServedModel) -> float:
    """Run a model's warm() (blocking); return its duration or raise ModelLoadError naming it."""
    started = time.perf_counter()
    try:
        model.warm()
    except Exception as exc:
        raise ModelLoadError(
            f"model '{model.name}' ({model.source}) failed to warm: {type(exc).__name__}: {exc}"
        ) from exc
    return time.perf_counter() - started


class ModelRunner:
    """Runs one model's predictions in its own worker threads, within its limits."""

    def __init__(self, model: ServedModel, limits: Limits, metrics: ServingMetrics) -> None:
        self.model = model
        self.limits = limits
        self.metrics = metrics
        self.ready = False
        self.warm_seconds: float | None = None
        self._pending = 0  # running + waiting; touched only on the event loop
        self._pool = ThreadPoolExecutor(
            max_workers=limits.concurrency, thread_name_prefix=f"predict-{model.name}"
        )
        self._in_flight = metrics.in_flight.labels(model.name)
        self._batcher: Batcher | None = None
        #: predictions admitted at once (running and waiting); a batched model runs its batches
        #: (``@batch(concurrency=)``, at most one per worker) of up to ``max_size``
        self.capacity = limits.concurrency + limits.queue
        if model.batch is not None:
            batches = min(model.batch.concurrency, limits.concurrency)
            self._batcher = Batcher(model, model.batch, self._pool, batches, metrics)
            self.capacity = batches * model.batch.max_size + limits.queue

    @property
    def name(self) -> str:
        """The served model's name."""
        return self.model.name

    @property
    def pending(self) -> int:
        """Predictions running or waiting."""
        return self._pending

    def warm(self) -> None:
        """Run the model's warm() (blocking); raise ModelLoadError naming the model on failure."""
        self.warm_seconds = warm_model(self.model)
        self.ready = True
        log.info("model %s warm in %.3f s", self.name, self.warm_seconds)

    def prepare(self, raw: RawArgs) -> dict[str, Any]:
        """Validate arguments (cheap; done on the event loop before taking a slot)."""
        return self.model.prepare(raw)

    async def predict(
        self, kwargs: dict[str, Any], inputs: InputHolder | None = None
    ) -> Prediction:
        """Run predict in a worker within the limits; raise Overloaded or PredictTimeout.

        ``inputs`` (the request's uploads) is kept until the model returns, even past a 504.
        """
        self._admit()
        if self._batcher is not None:
            return await self._predict_in_batch(self._batcher, kwargs, inputs)
        limits = self.limits
        loop = asyncio.get_running_loop()
        future: Future[Prediction] = self._pool.submit(self.model.predict, kwargs)
        try:
            if limits.timeout is None:
                return await asyncio.wrap_future(future, loop=loop)
            # On timeout wait_for cancels the wrapper, which cancels a still-queued job.
            return await asyncio.wait_for(asyncio.wrap_future(future, loop=loop), limits.timeout)
        except TimeoutError:
            if not future.cancel():  # already running: its slot frees when the model returns
                self._pending += 1
                self._in_flight.inc()
                future.add_done_callback(lambda _: self._release_from_worker(loop))
                if inputs is not None:
                    inputs.hold_until(future)
            raise self._late() from None
        finally:
            self._release()

    def stream(self, kwargs: dict[str, Any]) -> AsyncGenerator[bytes, None]:
        """A streaming model's items, produced in one of its workers as they are consumed;
        Overloaded at once when its workers and queue are full, PredictTimeout when an item
        takes longer than the deadline. Stopping early (``aclose``) stops the model."""
        self._admit()
        return stream_from_thread(
            self._pool,
            lambda: self.model.stream(kwargs),
            self.limits.timeout,
            f"model '{self.name}'",
            self._release,
        )

    async def _predict_in_batch(
        self, batcher: Batcher, kwargs: dict[str, Any], inputs: InputHolder | None
    ) -> Prediction:
        """Queue the request for a batch; give up on it at the deadline or when cancelled."""
        queued = batcher.submit(kwargs)
        answer = queued.answer
        try:
            return await asyncio.wait_for(asyncio.shield(answer), self.limits.timeout)
        except TimeoutError:
            batcher.withdraw(queued)
            raise self._late() from None
        except asyncio.CancelledError:  # the caller went away
            batcher.withdraw(queued)
            raise
        finally:
            if answer.done():
                self._release()
            else:  # running: its slot frees (and its inputs go) when the batch returns
                answer.add_done_callback(lambda _: self._release())
                if inputs is not None:
                    inputs.hold_until(answer)

    def _admit(self) -> None:
        """Take a slot (running or waiting); ModelNotReady while warming, Overloaded if full."""
        if not self.ready:
            raise ModelNotReady(f"model '{self.name}' is still warming up")
        if self._pending >= self.capacity:
            self.metrics.rejected.labels(self.name).inc()
            raise Overloaded(self.name, retry_after=max(1, round(self.limits.timeout or 1)))
        self._pending += 1
        self._in_flight.inc()

    def _late(self) -> PredictTimeout:
        return PredictTimeout(
            f"model '{self.name}' did not answer within {self.limits.timeout:g} s"
        )

    def _release_from_worker(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is shutting down
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self._pending -= 1
        self._in_flight.dec()

    def close(self) -> None:
        """Stop accepting work; running predictions finish in the background."""
        if self._batcher is not None:
            self._batcher.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class ModelRuntime:
    """The served models by name, each with its runner."""

    def __init__(
        self, models: Iterable[ServedModel], settings: Settings, metrics: ServingMetrics
    ) -> None:
        self.metrics = metrics
        limits = Limits.from_settings(settings)
        self.runners: dict[str, ModelRunner] = {}
        for model in models:
            if model.name in self.runners:
                raise ModelLoadError(f"two models are named '{model.name}'")
            self.runners[model.name] = ModelRunner(model, limits, metrics)

    def get(self, name: str) -> ModelRunner:
        """The runner of ``name``; NotFound if no such model is served."""
        try:
            return self.runners[name]
        except KeyError:
            raise NotFound(f"model '{name}' not found") from None

    def __iter__(self) -> Any:
        return iter(self.runners.values())

    @property
    def ready(self) -> bool:
        """Whether every model has been warmed."""
        return all(r.ready for r in self.runners.values())

    def warm_all(self) -> None:
        """Warm every model not yet warm (blocking); the first failure raises ModelLoadError."""
        for runner in self.runners.values():
            if not runner.ready:
                runner.warm()

    def mark_ready(self) -> None:
        """Serve without warming (``--no-warm``)."""
        for runner in self.runners.values():
            runner.ready = True

    def close(self) -> None:
        """Shut every runner down."""
        for runner in self.runners.values():
            runner.close()
