"""What a training process records into: the job store itself, or its channel to the platform."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from modelport.jobs.domain import EventKind, Job, JobStatus


class JobRecorder(Protocol):
    """The part of :class:`~modelport.jobs.store.JobStore` a training process uses.

    :class:`~modelport.jobs.channel.ChannelRecorder` implements it over the job's private
    channel (a socketpair locally, TCP with a one-time key on Ray): a job never holds database
    credentials. The store itself implements it too (tests, a worker run by hand).
    """

    def get(self, job_id: str) -> Job:
        """The job."""
        ...

    def report(
        self,
        job_id: str,
        *,
        progress: float | None = None,
        message: str | None = None,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
    ) -> None:
        """Record progress and metric points."""
        ...

    def append_logs(self, job_id: str, lines: Sequence[tuple[str, str]]) -> None:
        """Append log lines."""
        ...

    def add_event(self, job_id: str, kind: EventKind, data: dict[str, Any]) -> None:
        """Record an event (an artifact written)."""
        ...

    def transition(self, job_id: str, new: JobStatus, **fields: Any) -> Job:
        """Move the job to a new status."""
        ...
