"""Adaptive batching: concurrent requests for a batched model, merged into one call.

A :class:`Batcher` per batched model (``@modelport.batch``) queues the requests' validated
arguments. Its dispatcher waits until the batch is full or the oldest request has waited
``max_wait_ms``, then, as soon as one of the model's workers is free, takes up to ``max_size``
requests (more may have arrived meanwhile) and runs them as one call in the runner's thread
pool. While every worker is busy the queue grows, so batches grow with the load: one request
alone waits at most ``max_wait_ms``, a loaded model answers in batches of ``max_size``. Each
request gets its own answer or error back; a request that gives up (deadline, disconnect) while
queued leaves the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from modelport.contract.base import Prediction, ServedModel
from modelport.contract.batching import BatchPolicy
from modelport.errors import ModelError, ModelportError
from modelport.runtime.metrics import ServingMetrics

log = logging.getLogger(__name__)


@dataclass
class Queued:
    """One request in a batcher: its arguments, its answer to come, whether it is running."""

    kwargs: dict[str, Any]
    answer: asyncio.Future[Prediction]
    arrived: float = field(default_factory=time.perf_counter)
    running: bool = False


class Batcher:
    """Merges one model's concurrent requests into calls of its batched ``predict``."""

    def __init__(
        self,
        model: ServedModel,
        policy: BatchPolicy,
        pool: Executor,
        workers: int,
        metrics: ServingMetrics,
    ) -> None:
        self.model = model
        self.policy = policy
        self._pool = pool
        self._free = asyncio.Semaphore(workers)
        self._queue: deque[Queued] = deque()
        self._arrived = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._batch_size = metrics.batch_size.labels(model.name)
        self._queue_wait = metrics.batch_wait.labels(model.name)

    @property
    def queued(self) -> int:
        """Requests waiting for a batch."""
        return len(self._queue)

    def submit(self, kwargs: dict[str, Any]) -> Queued:
        """Queue one request; its answer (or error) arrives in ``answer``."""
        loop = asyncio.get_running_loop()
        request = Queued(kwargs, loop.create_future())
        # a request given up while running is answered anyway: nobody reads its error then
        request.answer.add_done_callback(_retrieve)
        self._queue.append(request)
        self._arrived.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch(), name=f"batch-{self.model.name}")
        return request

    def withdraw(self, request: Queued) -> None:
        """The caller gave up on ``request``: out of the queue if it is not running yet."""
        if not request.running:
            request.answer.cancel()

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_abandoned()
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._fill(self._queue[0].arrived)
            await self._free.acquire()
            self._drop_abandoned()
            batch = [self._queue.popleft() for _ in range(min(self.policy.max_size, self.queued))]
            if not batch:
                self._free.release()
                continue
            now = time.perf_counter()
            for request in batch:
                request.running = True
                self._queue_wait.observe(now - request.arrived)
            self._batch_size.observe(len(batch))
            running = loop.run_in_executor(
                self._pool, self.model.predict_batch, [r.kwargs for r in batch]
            )
            running.add_done_callback(functools.partial(self._answer, batch))

    async def _fill(self, first_arrived: float) -> None:
        """Wait until the batch is full or its first request has waited ``max_wait``."""
        deadline = first_arrived + self.policy.max_wait
        while self.queued < self.policy.max_size:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def _drop_abandoned(self) -> None:
        if any(r.answer.done() for r in self._queue):
            self._queue = deque(r for r in self._queue if not r.answer.done())

    def _answer(self, batch: list[Queued], done: asyncio.Future[Any]) -> None:
        self._free.release()
        try:
            answers: list[Prediction | ModelportError] = done.result()
        except Exception as exc:  # predict_batch itself broke: every request fails with it
            log.exception("batched predict of %s failed", self.model.name)
            answers = [ModelError.raised(exc)] * len(batch)
        for request, answer in zip(batch, answers, strict=True):
            if request.answer.done():  # its caller gave up meanwhile
                continue
            if isinstance(answer, BaseException):
                request.answer.set_exception(answer)
            else:
                request.answer.set_result(answer)

    def close(self) -> None:
        """Stop dispatching; requests still queued are cancelled."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for request in self._queue:
            request.answer.cancel()
        self._queue.clear()


def _retrieve(answer: asyncio.Future[Prediction]) -> None:
    if not answer.cancelled():
        answer.exception()
