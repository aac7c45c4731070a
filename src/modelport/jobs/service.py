"""Use cases of the training facility: submit, inspect, cancel, retry, recover."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import fsspec

from modelport.contract.base import RawArgs, ServedModel
from modelport.errors import (
    IllegalTransition,
    InvalidInput,
    ModelLoadError,
    NotFound,
    NotImplementedByModel,
)
from modelport.jobs.domain import Job, JobStatus, Resources, new_job_id, utcnow
from modelport.jobs.executors.base import Executor
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

SERVER_STOPPED = "the server stopped while the job was running"


class JobService:
    """The training facility behind the HTTP API and the CLI."""

    def __init__(
        self, store: JobStore, executor: Executor, artifacts_root: str, cancel_grace: float = 1.5
    ) -> None:
        self.store = store
        self.executor = executor
        self.cancel_grace = cancel_grace
        self.artifacts_root = artifacts_root.rstrip("/")
        self.scheduler = Scheduler(store, executor)

    # -- lifecycle of the service -------------------------------------------------------------

    def start(self) -> None:
        """Recover what an earlier run left, then start scheduling."""
        self.executor.prepare()
        self.recover()
        self.scheduler.start()
        self.scheduler.wake()

    def stop(self) -> None:
        """Stop scheduling and end running jobs (re-queued if their policy allows)."""
        self.scheduler.stop()
        for job_id in self.executor.shutdown():
            self._requeue_or_fail(self.store.get(job_id), SERVER_STOPPED)

    def recover(self) -> list[Job]:
        """Jobs left running by a dead server: make sure they are gone, then fail or re-queue."""
        recovered = []
        for job in self.store.find(status=[JobStatus.RUNNING], limit=100_000).items:
            self.executor.abandon(job)
            recovered.append(self._requeue_or_fail(job, SERVER_STOPPED))
        return recovered

    def _requeue_or_fail(self, job: Job, reason: str) -> Job:
        with contextlib.suppress(IllegalTransition):
            if job.cancel_requested:
                return self.store.transition(job.id, JobStatus.CANCELLED, finished_at=utcnow())
            if job.attempts < job.max_attempts:
                log.warning(
                    "job %s: %s; re-queued (%d of %d runs used)",
                    job.id,
                    reason,
                    job.attempts,
                    job.max_attempts,
                )
                return self.store.transition(
                    job.id, JobStatus.QUEUED, started_at=None, error=None, executor_ref=None
                )
            return self.store.transition(
                job.id, JobStatus.FAILED, finished_at=utcnow(), error=reason
            )
        return self.store.get(job.id)

    # -- use cases ----------------------------------------------------------------------------

    def submit(
        self,
        model: ServedModel,
        raw: RawArgs,
        *,
        resources: Resources | None = None,
        priority: int = 0,
        owner: str | None = None,
        max_attempts: int = 1,
        version: str | None = None,
    ) -> Job:
        """Validate and queue a training of ``model``."""
        if not model.trainable:
            raise NotImplementedByModel(f"model '{model.name}' cannot be trained (no train())")
        if not model.spec:
            raise ModelLoadError(f"model '{model.name}' was not loaded by name: cannot train it")
        args = model.prepare_train(raw)
        resources = resources or Resources()
        why = self.executor.limit_for(resources)
        if why:
            raise InvalidInput({"resources": [f"Can never run: {why}."]})
        job = Job(
            model=model.name,
            model_spec=model.spec,
            version=version,
            args=args,
            owner=owner,
            priority=priority,
            resources=resources,
            max_attempts=max_attempts,
        )
        job.artifacts_url = f"{self.artifacts_root}/{job.id}"
        self.store.create(job)
        self.scheduler.wake()
        return job

    def get(self, job_id: str, model: str | None = None) -> Job:
        """A job (of ``model``, when given)."""
        job = self.store.get(job_id)
        if model is not None and job.model != model:
            raise NotFound(f"job '{job_id}' not found for model '{model}'")
        return job

    def cancel(self, job_id: str, wait: float = 0.0) -> Job:
        """Cancel a job (Conflict if it already finished); wait up to ``wait`` s for its end."""
        job = self.store.get(job_id)
        if job.status is JobStatus.QUEUED:
            with contextlib.suppress(IllegalTransition):
                return self.store.transition(
                    job_id, JobStatus.CANCELLED, finished_at=utcnow(), cancel_requested=True
                )
        job = self.store.request_cancel(job_id)
        self.executor.cancel(job_id)
        deadline = time.monotonic() + wait
        while not job.status.finished and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.store.get(job_id)
        return job

    def retry(self, job_id: str) -> Job:
        """Queue a new job with the same model and arguments as a finished one."""
        old = self.store.get(job_id)
        if not old.status.finished:
            raise IllegalTransition(f"job is {old.status.value}: only finished jobs can be retried")
        job = old.model_copy(
            update={
                "id": new_job_id(),
                "status": JobStatus.QUEUED,
                "attempts": 0,
                "created_at": utcnow(),
                "started_at": None,
                "finished_at": None,
                "progress": 0.0,
                "progress_message": None,
                "result": None,
                "error": None,
                "executor": None,
                "executor_ref": None,
                "cancel_requested": False,
                "retry_of": old.id,
            }
        )
        job.artifacts_url = f"{self.artifacts_root}/{job.id}"
        self.store.create(job)
        self.scheduler.wake()
        return job

    def artifacts(self, job_id: str) -> list[dict[str, Any]]:
        """The files a job wrote: name, size."""
        job = self.store.get(job_id)
        if not job.artifacts_url:
            return []
        fs, root = fsspec.core.url_to_fs(job.artifacts_url)
        if not fs.exists(root):
            return []
        found = fs.find(root, detail=True)
        return [
            {"name": path[len(root) :].lstrip("/"), "size": info.get("size")}
            for path, info in sorted(found.items())
        ]

    def open_artifact(self, job_id: str, name: str) -> tuple[Any, int | None]:
        """An open binary handle on one artifact and its size; NotFound if absent."""
        job = self.store.get(job_id)
        if not job.artifacts_url or ".." in name.split("/"):
            raise NotFound(f"artifact '{name}' not found")
        fs, root = fsspec.core.url_to_fs(job.artifacts_url)
        path = f"{root}/{name.lstrip('/')}"
        if not fs.isfile(path):
            raise NotFound(f"artifact '{name}' not found for job '{job_id}'")
        return fs.open(path, "rb"), fs.size(path)
