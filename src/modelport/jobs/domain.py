"""The job: its lifecycle, resources and events. Plain pydantic, no database here.

A job is a training (the module's ``train``) or a notebook (JupyterLab next to the user's data,
:mod:`modelport.notebooks`): both are queued, admitted, confined and counted alike."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from modelport.clock import utcnow as utcnow  # noqa: PLC0414 - re-exported: jobs.domain.utcnow
from modelport.errors import IllegalTransition


class JobKind(StrEnum):
    """What a job runs."""

    TRAINING = "training"
    NOTEBOOK = "notebook"


class JobStatus(StrEnum):
    """queued → running → succeeded | failed | cancelled (and running → queued on a retry)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether this is a final state."""
        return self in FINISHED


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def sources_of(new: JobStatus) -> frozenset[JobStatus]:
    """The states from which ``new`` may be entered."""
    return frozenset(old for old, targets in TRANSITIONS.items() if new in targets)


def check_transition(old: JobStatus, new: JobStatus) -> None:
    """Raise IllegalTransition unless ``old → new`` is allowed."""
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(f"job is {old.value}: cannot become {new.value}")


def new_job_id() -> str:
    """A job id: 32 hex digits, as DEEPaaS's training uuids."""
    return uuid.uuid4().hex


class Resources(BaseModel):
    """What a job needs from its executor."""

    cpu: float = Field(1.0, gt=0, description="CPU cores")
    gpu: int = Field(0, ge=0, description="GPUs")
    memory_mb: int | None = Field(None, gt=0, description="Memory in MB (reserved on Ray)")


class Job(BaseModel):
    """A job (a training or a notebook) as stored."""

    id: str = Field(default_factory=new_job_id)
    kind: JobKind = JobKind.TRAINING
    model: str = Field(description="The module it trains or opens (a notebook: its name, or '-')")
    model_spec: str = Field(description="How a worker loads the model: entry point or import path")
    version: str | None = None
    model_dir: str | None = Field(
        None, description="The catalog version's artifacts, read by the model (Model.artifact)"
    )
    args: dict[str, Any] = Field(default_factory=dict)
    shown_args: dict[str, Any] | None = Field(
        None, description="A legacy module's arguments as its fields read them (DEEPaaS view)"
    )
    owner: str | None = None
    status: JobStatus = JobStatus.QUEUED
    priority: int = 0
    resources: Resources = Field(default_factory=Resources)
    max_attempts: int = Field(1, ge=1, description="Runs allowed; >1 re-queues after a crash")
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float = 0.0
    progress_message: str | None = None
    result: Any = None
    error: str | None = None
    executor: str | None = None
    executor_ref: str | None = None
    cancel_requested: bool = False
    artifacts_url: str | None = None
    retry_of: str | None = Field(None, description="The job this one retries")
    dismissed_at: datetime | None = Field(
        None, description="When it was deleted from the DEEPaaS training view (/jobs keeps it)"
    )
    lease_owner: str | None = Field(
        None, description="The platform replica that runs it (or ran it last)"
    )
    lease_expires_at: datetime | None = Field(
        None, description="Until when that replica's claim holds, renewed while the job runs"
    )
    # computed when a job is read, never stored (jobs.scheduler.QueueView)
    queue_position: int | None = Field(
        None, description="A queued job's place in the start order (1: next), as last seen"
    )
    estimated_start: datetime | None = Field(
        None,
        description="When a queued job might start: an estimate from recent runs' durations",
    )


class EventKind(StrEnum):
    """What a job event reports."""

    STATUS = "status"
    PROGRESS = "progress"
    METRIC = "metric"
    LOG = "log"
    ARTIFACT = "artifact"
    DEVICES = "devices"  # the accelerators its process was given (jobs.devices)


class JobEvent(BaseModel):
    """One thing that happened to a job; ``id`` orders all events (SSE's Last-Event-ID)."""

    id: int = 0
    job_id: str
    kind: EventKind
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)


class Metric(BaseModel):
    """One point of a metric's time series."""

    name: str
    value: float
    step: int | None = None
    at: datetime
