"""Admits queued jobs onto the executor: by priority, fairly between users, as slots free up."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from modelport.errors import IllegalTransition, ModelportError
from modelport.jobs.domain import Job, JobStatus, Resources, utcnow
from modelport.jobs.executors.base import Executor
from modelport.jobs.fairness import Capacity, estimated_start, fair_order, recent_usage
from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

#: Even when nothing seems to have changed, the queue is looked at this often (seconds): the
#: starvation limit and the estimated starts move with time.
FULL_LOOK_S = 30.0

#: How far back what users' jobs used counts, between users of equal shares (seconds).
HISTORY_S = 3600.0

#: A job that has waited this long for room stops the jobs behind it from being backfilled
#: past it (seconds): it starts as soon as running jobs free enough, instead of never.
STARVATION_LIMIT_S = 300.0


@dataclass(frozen=True)
class QueueView:
    """The queue as the last look ordered it: each queued job's place (1: next) and when it
    might start (:func:`~modelport.jobs.fairness.estimated_start`)."""

    at: datetime
    positions: dict[str, int] = field(default_factory=dict)
    estimates: dict[str, datetime | None] = field(default_factory=dict)

    def place(self, job: Job) -> Job:
        """``job`` with its place in the queue filled in (when it is queued and was seen)."""
        if job.status is not JobStatus.QUEUED or job.id not in self.positions:
            return job
        return job.model_copy(
            update={
                "queue_position": self.positions[job.id],
                "estimated_start": self.estimates.get(job.id),
            }
        )


class Scheduler:
    """Starts queued jobs as soon as they fit, in :func:`~modelport.jobs.fairness.fair_order`:
    highest priority first, then users by dominant share, each user's jobs oldest first.

    A job that does not fit yet does not block the ones behind it (backfill) until it has
    waited ``starvation_limit`` seconds; from then on nothing behind it starts before it. The
    order is made from one view of the database (every replica's running jobs count).
    ``wake()`` makes it look at once (on a job's end; on a submit that has room); otherwise it
    checks every ``interval`` seconds whether anything changed on any replica (one cheap
    query, :meth:`~modelport.jobs.store.JobStore.queue_signature`) and looks only then: an
    idle queue of thousands of jobs costs nothing between changes.
    """

    def __init__(
        self,
        store: JobStore,
        executor: Executor,
        interval: float = 1.0,
        starvation_limit: float = STARVATION_LIMIT_S,
    ) -> None:
        self.store = store
        self.executor = executor
        self.interval = interval
        self.starvation_limit = starvation_limit
        self.view = QueueView(at=utcnow())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self._signature: tuple[object, ...] | None = None
        self._looked = 0.0

    def wake(self, arrived: Resources | None = None) -> None:
        """Look at the queue now.

        ``arrived``: what a job just queued asks for. When the executor has no room for it, it
        cannot start now, and nothing else got room: the look waits for the next check (within
        ``interval``, which sees the queue changed), so a burst of submissions to a full
        cluster costs one look at the whole queue, not one per submission."""
        if arrived is not None:
            try:
                if not self.executor.has_room(arrived):
                    return
            except ModelportError:
                pass  # cannot tell: look
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
            woken = self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if woken or self._changed():
                    self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def _changed(self) -> bool:
        """Whether the queue or what runs changed since the last look (or it is time anyway)."""
        if time.monotonic() - self._looked >= FULL_LOOK_S:
            return True
        return self.store.queue_signature() != self._signature

    def tick(self) -> int:
        """Start every queued job that fits now, in fair order; return how many started."""
        shared = self.executor.shares_cluster
        with self._tick_lock, self.store.admission() if shared else contextlib.nullcontext():
            # taken first: a change while this look runs is seen by the next check
            self._signature = self.store.queue_signature()
            self._looked = time.monotonic()
            capacity = self.executor.capacity()
            running = self.store.running()
            ended = self.store.ended_since(utcnow() - timedelta(seconds=HISTORY_S))
            recent = recent_usage(ended, capacity)
            order = fair_order(self.store.queued(), running, capacity, recent)
            # a shared cluster: what every replica runs on it counts (read under the lock)
            used = _total(j for j in running if j.executor == self.executor.name)
            now = utcnow()
            started = 0
            reserved = False  # a starved job waits ahead: nothing behind it starts
            waiting: list[Job] = []
            refused: list[Resources] = []
            for job in order:
                if job.cancel_requested:
                    with contextlib.suppress(IllegalTransition):
                        self.store.transition(job.id, JobStatus.CANCELLED, finished_at=utcnow())
                    continue
                fits = not shared or _within(used, job.resources, capacity)
                # one view per pass: a job needing at least what an earlier one was refused
                # does not fit either, even if the executor's view changed meanwhile (Ray
                # shows freed resources a moment late: later jobs would jump the fair order)
                fits = fits and not any(_at_least(job.resources, r) for r in refused)
                if fits and not reserved and not self.executor.has_room(job.resources):
                    refused.append(job.resources)
                    fits = False
                if reserved or not fits:
                    waiting.append(job)
                    starved = now - job.created_at > timedelta(seconds=self.starvation_limit)
                    reserved = reserved or starved
                    continue
                if self._start(job):
                    started += 1
                    used = (used[0] + job.resources.cpu, used[1] + job.resources.gpu)
            self.view = self._view(waiting, capacity, now)
        return started

    def _start(self, job: Job) -> bool:
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
            return False  # cancelled meanwhile, or another replica started it
        try:
            ref = self.executor.start(running)
        except ModelportError as exc:
            self.store.transition(job.id, JobStatus.FAILED, finished_at=utcnow(), error=exc.message)
            return False
        self.store.update(job.id, executor_ref=ref)
        return True

    def _view(self, waiting: list[Job], capacity: Capacity, now: datetime) -> QueueView:
        durations = self.store.recent_durations() if waiting else []
        positions = {job.id: place for place, job in enumerate(waiting, start=1)}
        estimates = {
            job.id: estimated_start(place, job.resources, capacity, durations, now)
            for place, job in enumerate(waiting, start=1)
        }
        return QueueView(at=now, positions=positions, estimates=estimates)


def _total(jobs: Iterable[Job]) -> tuple[float, int]:
    """The CPUs and GPUs ``jobs`` hold."""
    cpu, gpu = 0.0, 0
    for job in jobs:
        cpu, gpu = cpu + job.resources.cpu, gpu + job.resources.gpu
    return cpu, gpu


def _within(used: tuple[float, int], resources: Resources, capacity: Capacity) -> bool:
    """Whether ``resources`` fit what ``capacity`` has beyond ``used``."""
    cpu_ok = used[0] + resources.cpu <= capacity.cpu + 1e-9
    return cpu_ok and used[1] + resources.gpu <= capacity.gpu


def _at_least(resources: Resources, than: Resources) -> bool:
    """Whether ``resources`` ask for at least what ``than`` asks, in every dimension."""
    return (
        resources.cpu >= than.cpu
        and resources.gpu >= than.gpu
        and (resources.memory_mb or 0) >= (than.memory_mb or 0)
    )
