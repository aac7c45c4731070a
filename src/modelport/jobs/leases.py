"""Keeps this replica's job leases, and carries what other replicas decide to the jobs it runs.

Replicas of the platform share one database; each running job is leased to the replica that
runs it (:mod:`modelport.jobs.store`). A :class:`LeaseKeeper` thread per replica:

- renews the leases of the jobs it runs, every ``lease_ttl / 3`` seconds; a job whose lease it
  no longer holds (it stalled past the expiry, and another replica took the job over) is
  stopped here, and its outcome will not be recorded (the store refuses the write);
- stops the jobs it runs that someone asked to cancel through any replica (the request is a
  flag in the database), within ``interval`` seconds;
- takes over the running jobs of dead replicas (expired leases) and hands them to
  ``recover`` (which re-queues or fails them), within ``lease_ttl + lease_ttl / 3`` seconds of
  the death.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from modelport.jobs.domain import JobStatus
from modelport.jobs.executors.base import Executor
from modelport.jobs.store import JobStore
from modelport.jobs.store_leases import TakenOver

log = logging.getLogger(__name__)


class LeaseKeeper:
    """The background thread of one replica's leases (see the module's docstring)."""

    def __init__(
        self,
        store: JobStore,
        executor: Executor,
        recover: Callable[[list[TakenOver]], object],
        *,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.executor = executor
        self.recover = recover
        self.interval = interval
        self.renew_every = max(store.lease_ttl / 3, interval)
        self._cancelled: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="job-leases", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread; the leases then expire unless the jobs end first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        next_renewal = 0.0
        while not self._stop.wait(0 if next_renewal == 0.0 else self.interval):
            try:
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + self.renew_every
                    self.renew()
                    self.sweep()
                self.carry_cancels()
            except Exception:  # the database may be away for a while: try again next turn
                log.exception("keeping the job leases failed")

    def renew(self) -> None:
        """Renew our leases; stop the jobs we run whose lease another replica took over."""
        running = set(self.executor.running_ids())  # before: a job starting now is leased first
        held = self.store.renew_leases()
        for job_id in running - held:
            job = self.store.get(job_id)
            if job.status is not JobStatus.RUNNING or job.lease_owner == self.store.replica:
                continue  # it ended meanwhile: its watcher records it
            log.warning(
                "job %s: this replica (%s) lost its lease (another replica took the job over); "
                "stopping it here",
                job_id,
                self.store.replica,
            )
            self._cancel(job_id)

    def sweep(self) -> None:
        """Take over the jobs of replicas whose leases expired."""
        taken = self.store.take_over()
        if taken:
            log.warning(
                "took over %d job(s) of replicas whose leases expired: %s",
                len(taken),
                ", ".join(f"{t.job.id} (from {t.previous_owner})" for t in taken),
            )
            self.recover(taken)

    def carry_cancels(self) -> None:
        """Stop the jobs we run that someone asked to cancel, through whichever replica."""
        running = set(self.executor.running_ids())
        self._cancelled &= running
        if not running:  # nothing here to stop: no query (this runs every second)
            return
        for job_id in self.store.cancels_requested() - self._cancelled:
            self._cancel(job_id)

    def _cancel(self, job_id: str) -> None:
        if job_id not in self._cancelled and self.executor.cancel(job_id):
            self._cancelled.add(job_id)
