"""Admits queued jobs onto the executor by priority and free slots, in a background thread."""

from __future__ import annotations

import contextlib
import logging
import threading

from modelport.errors import IllegalTransition, ModelportError
from modelport.jobs.domain import JobStatus, utcnow
from modelport.jobs.executors.base import Executor
from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)


class Scheduler:
    """Starts queued jobs as soon as they fit: highest priority first, then oldest.

    A job that does not fit yet does not block smaller ones behind it (backfill); it starts as
    soon as running jobs free enough slots. ``wake()`` makes it look at once (on submit, on a
    job's end); otherwise it looks every ``interval`` seconds.
    """

    def __init__(self, store: JobStore, executor: Executor, interval: float = 1.0) -> None:
        self.store = store
        self.executor = executor
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()

    def wake(self) -> None:
        """Look at the queue now."""
        self._wake.set()

    def start(self) -> None:
        """Start the background thread."""
        if self._thread is None:
            self._stop.clear()  # started again after a stop
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def tick(self) -> int:
        """Start every queued job that fits now; return how many started."""
        started = 0
        with self._tick_lock:
            for job in self.store.queued():
                if job.cancel_requested:
                    with contextlib.suppress(IllegalTransition):
                        self.store.transition(job.id, JobStatus.CANCELLED, finished_at=utcnow())
                    continue
                if not self.executor.has_room(job.resources):
                    continue
                try:
                    running = self.store.transition(
                        job.id,
                        JobStatus.RUNNING,
                        started_at=utcnow(),
                        attempts=job.attempts + 1,
                        executor=self.executor.name,
                        progress=0.0,
                    )
                except IllegalTransition:
                    continue  # cancelled meanwhile
                try:
                    ref = self.executor.start(running)
                except ModelportError as exc:
                    self.store.transition(
                        job.id, JobStatus.FAILED, finished_at=utcnow(), error=exc.message
                    )
                    continue
                self.store.update(job.id, executor_ref=ref)
                started += 1
        return started
