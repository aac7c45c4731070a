"""Use cases of the training facility: submit, inspect, cancel, retry, recover.

Methods taking ``principal`` apply :mod:`modelport.auth.policy` (who may train, see, cancel or
retry) and, on queueing, the caller's quota (:mod:`modelport.auth.quotas`); ``principal=None``
is a trusted in-process caller (the CLI, the platform gateway after its own checks).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from modelport.auth import policy
from modelport.auth.config import Principal
from modelport.auth.quotas import QuotaConfig, Usage, check_fits, check_quota, effective_quota
from modelport.contract.base import RawArgs, ServedModel, not_implemented
from modelport.errors import (
    Forbidden,
    IllegalTransition,
    InvalidInput,
    ModelLoadError,
    NotFound,
    NotImplementedByModel,
)
from modelport.jobs.domain import (
    EventKind,
    Job,
    JobEvent,
    JobKind,
    JobStatus,
    Metric,
    Resources,
    new_job_id,
    utcnow,
)
from modelport.jobs.executors.base import Executor
from modelport.jobs.leases import LeaseKeeper
from modelport.jobs.notebook_sessions import NotebookSessions
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.store import JobPage, JobStore
from modelport.jobs.store_leases import TakenOver
from modelport.storage.backends import StorageBackend, open_url, options_for
from modelport.storage.userdata import UserData

log = logging.getLogger(__name__)

SERVER_STOPPED = "the server stopped while the job was running"
REPLICA_LOST = "the replica running it stopped answering (its lease expired)"


class JobService:
    """The training facility behind the HTTP API and the CLI."""

    def __init__(
        self,
        store: JobStore,
        executor: Executor,
        artifacts_root: str,
        cancel_grace: float = 1.5,
        quotas: QuotaConfig | None = None,
        *,
        user_data: UserData | None = None,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
        notebooks: NotebookSessions | None = None,
    ) -> None:
        """``user_data`` (the platform): the users' data areas, which ``data://`` arguments
        name (checked on submission; the job's worker reads them). ``storage_options``: the
        storage backends' options (``Settings.storage_options``), to read jobs' artifacts;
        ``notebooks`` (the platform): the secrets of the notebooks this replica runs."""
        self.storage_options = dict(storage_options or {})
        self.notebooks = notebooks
        self.store = store
        self.user_data = user_data
        self.executor = executor
        self.cancel_grace = cancel_grace
        self.quotas = quotas or QuotaConfig()
        self.artifacts_root = artifacts_root.rstrip("/")
        self.scheduler = Scheduler(store, executor)
        self.leases = LeaseKeeper(store, executor, self._recover_taken)

    # -- lifecycle of the service -------------------------------------------------------------

    def start(self) -> None:
        """Recover what an earlier run left, then start scheduling and keeping leases."""
        self.executor.prepare()
        self.recover()
        self.leases.start()
        self.scheduler.start()
        self.scheduler.wake()

    def stop(self) -> None:
        """Stop scheduling and end running jobs (re-queued if their policy allows)."""
        self.scheduler.stop()
        for job_id in self.executor.shutdown():
            self._requeue_or_fail(self.store.get(job_id), SERVER_STOPPED)
        self.leases.stop()

    def close(self) -> None:
        """Release what a service made for one use holds (``modelport check``'s smoke training):
        its executor's processes, ended and not re-queued, and its database connections."""
        self.leases.stop()
        self.executor.shutdown()
        self.store.engine.dispose()

    def recover(self) -> list[Job]:
        """Jobs left running by an earlier run of this replica, and by replicas whose leases
        expired: make sure they are gone, then fail or re-queue them. Another live replica's
        jobs are left alone (their leases hold)."""
        return self._recover_taken(self.store.take_over(own=True))

    def _recover_taken(self, taken: list[TakenOver]) -> list[Job]:
        recovered = []
        for item in taken:
            ours = item.previous_owner in (None, self.store.replica)
            if ours:  # a process of ours (or of a server from before leases) may be left
                self.executor.abandon(item.job)
            reason = SERVER_STOPPED if ours else REPLICA_LOST
            recovered.append(self._requeue_or_fail(item.job, reason))
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
        principal: Principal | None = None,
    ) -> Job:
        """Check the caller may train, validate ``raw`` with ``model``, and :meth:`enqueue` it."""
        if principal is not None:
            policy.check_train(principal)
        if not model.trainable:
            raise NotImplementedByModel(not_implemented(model.name))
        if not model.spec:
            raise ModelLoadError(f"model '{model.name}' was not loaded by name: cannot train it")
        prepared = model.prepare_train(raw)
        return self.enqueue(
            model=model.name,
            spec=model.spec,
            args=prepared.args,
            shown_args=prepared.shown,
            version=version,
            owner=owner,
            resources=resources,
            priority=priority,
            max_attempts=max_attempts,
            principal=principal,
        )

    def enqueue(
        self,
        *,
        model: str,
        spec: str,
        args: dict[str, Any],
        version: str | None = None,
        model_dir: str | None = None,
        shown_args: dict[str, Any] | None = None,
        owner: str | None = None,
        resources: Resources | None = None,
        priority: int = 0,
        max_attempts: int = 1,
        principal: Principal | None = None,
    ) -> Job:
        """Queue a training whose ``args`` are already validated, within the owner's quota.

        ``owner`` defaults to ``principal``'s subject. The quota is the owner's (with
        ``principal``'s groups when it is the owner); ``Forbidden`` if the job can never fit
        it, ``QuotaExceeded`` if it does not fit now. No owner, no quota.
        """
        resources = resources or Resources()
        self._check_possible(resources)
        if owner is None and principal is not None:
            owner = principal.identity
        if self.user_data is not None:
            self.user_data.check_references(owner, args)
        job = Job(
            model=model,
            model_spec=spec,
            version=version,
            model_dir=model_dir,
            args=args,
            shown_args=shown_args,
            owner=owner,
            priority=priority,
            resources=resources,
            max_attempts=max_attempts,
        )
        return self._queue(job, principal)

    def queue(self, job: Job, principal: Principal | None = None) -> Job:
        """Queue a job made whole by its caller (a notebook: :mod:`modelport.notebooks`), as
        :meth:`enqueue` does: InvalidInput if its resources can never be granted, then the
        owner's quota."""
        self._check_possible(job.resources)
        return self._queue(job, principal)

    def _check_possible(self, resources: Resources) -> None:
        """InvalidInput naming ``resources`` when the executor can never grant them."""
        why = self.executor.limit_for(resources)
        if why:
            raise InvalidInput({"resources": [f"Can never run: {why}."]})

    def _queue(self, job: Job, principal: Principal | None) -> Job:
        job.artifacts_url = f"{self.artifacts_root}/{job.id}"
        if job.owner is None:
            self.store.create(job)
        else:
            groups = principal.groups if principal and principal.identity == job.owner else ()
            quota = effective_quota(self.quotas, job.owner, groups)
            if quota.unlimited:
                self.store.create(job)
            else:
                check_fits(quota, job.resources.gpu)  # before waiting on the owner's lock
                window = self.quotas.window_days

                def admit(usage: Usage) -> None:
                    check_quota(quota, usage, job.resources.gpu, window)

                since = utcnow() - timedelta(days=window)
                self.store.create(job, admit=admit, window_start=since)
        self.scheduler.wake(job.resources)
        return job

    def get(self, job_id: str, model: str | None = None, principal: Principal | None = None) -> Job:
        """A job (of ``model``, when given); NotFound too when ``principal`` may not see it."""
        job = self.store.get(job_id)
        if model is not None and (job.model != model or job.kind is not JobKind.TRAINING):
            raise NotFound(f"job '{job_id}' not found for model '{model}'")
        if principal is not None:
            policy.check_see_job(principal, job)
        return self.scheduler.view.place(job)

    def metrics(self, job_id: str, principal: Principal | None = None) -> list[Metric]:
        """Every metric point of a job, oldest first; NotFound as for :meth:`get`."""
        self.get(job_id, principal=principal)
        return self.store.metrics(job_id)

    def logs(
        self,
        job_id: str,
        *,
        offset: int = 0,
        limit: int = 1000,
        principal: Principal | None = None,
    ) -> list[str]:
        """Log lines ``offset`` .. ``offset + limit`` of a job; NotFound as for :meth:`get`."""
        self.get(job_id, principal=principal)
        return self.store.logs(job_id, offset=offset, limit=limit)

    def events(
        self,
        job_id: str,
        *,
        after: int = 0,
        kinds: Sequence[EventKind] | None = None,
        limit: int = 1000,
        principal: Principal | None = None,
    ) -> list[JobEvent]:
        """Events of a job with id > ``after``, oldest first; NotFound as for :meth:`get`."""
        self.get(job_id, principal=principal)
        return self.store.events(job_id, after=after, kinds=kinds, limit=limit)

    def watch(
        self, job_id: str, *, after: int = 0, principal: Principal | None = None
    ) -> tuple[Job, list[JobEvent]]:
        """A job now, then its events with id > ``after`` (read in that order: when the job
        shows finished, every event it wrote is in the list or an earlier one)."""
        job = self.get(job_id, principal=principal)
        return job, self.store.events(job_id, after=after)

    def list_jobs(
        self,
        principal: Principal | None = None,
        *,
        model: str | None = None,
        status: list[JobStatus] | None = None,
        owner: str | None = None,
        dismissed: bool | None = None,
        kind: JobKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        """Jobs newest first: only ``principal``'s own unless an admin (who may filter by owner).

        ``dismissed``: only jobs deleted from the DEEPaaS view (True), or only the others (False);
        ``kind``: only trainings or only notebooks.
        """
        if principal is not None:
            if not (principal.has_scope("read") or principal.has_scope("train")):
                raise Forbidden("this API token lacks the 'read' or 'train' scope")
            possible, owner = policy.jobs_owner_filter(principal, owner)
            if not possible:
                return JobPage([], 0)
        page = self.store.find(
            model=model,
            status=status,
            owner=owner,
            dismissed=dismissed,
            kind=kind,
            limit=limit,
            offset=offset,
        )
        view = self.scheduler.view
        return JobPage([view.place(job) for job in page.items], page.total)

    def run_now(self, job_id: str) -> Job:
        """Start a queued job at once, outside the scheduler (``modelport train``: a server
        sharing the store keeps scheduling its own jobs); the job as it started."""
        running = self.store.transition(
            job_id, JobStatus.RUNNING, started_at=utcnow(), attempts=1, executor=self.executor.name
        )
        self.leases.start()  # its lease is renewed while it runs (closed by close())
        self.executor.start(running)
        return running

    def cancel(self, job_id: str, wait: float = 0.0, principal: Principal | None = None) -> Job:
        """Cancel a job (Conflict if it already finished); wait up to ``wait`` s for its end."""
        job = self.store.get(job_id)
        if principal is not None:
            policy.check_cancel_job(principal, job)
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

    def dismiss(
        self, job_id: str, model: str, wait: float = 0.0, principal: Principal | None = None
    ) -> Job:
        """Delete a training from the DEEPaaS view, as DEEPaaS's DELETE does: cancel it if it
        is still going (waiting up to ``wait`` s), then hide it there; ``/jobs`` keeps it.
        NotFound when it is unknown or already dismissed."""
        job = self.get(job_id, model=model, principal=principal)
        if job.dismissed_at is not None:
            raise NotFound(f"job '{job_id}' not found for model '{model}'")
        if principal is not None:
            policy.check_cancel_job(principal, job)
        if not job.status.finished:
            with contextlib.suppress(IllegalTransition):  # it may end on its own meanwhile
                job = self.cancel(job_id, wait=wait, principal=principal)
        self.store.update(job_id, dismissed_at=utcnow())
        return job

    def retry(self, job_id: str, principal: Principal | None = None) -> Job:
        """Queue a new job (same owner, model and arguments) as a finished one, within quota."""
        old = self.get(job_id, principal=principal)
        if principal is not None:
            policy.check_train(principal)
            if old.kind is JobKind.NOTEBOOK:  # it would run as its owner: theirs to restart
                policy.check_open_notebook(principal, old.id, old.owner)
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
                "dismissed_at": None,
            }
        )
        return self._queue(job, principal)

    def devices(self, job_id: str, principal: Principal | None = None) -> list[dict[str, Any]]:
        """The accelerators the job's last run was given, as it reported them (its ``devices``
        event: :mod:`modelport.jobs.devices`); none for a job without GPUs."""
        self.get(job_id, principal=principal)
        reported = self.store.events(job_id, kinds=[EventKind.DEVICES])
        return list(reported[-1].data.get("devices", [])) if reported else []

    def artifacts(self, job_id: str, principal: Principal | None = None) -> list[dict[str, Any]]:
        """The files a job wrote: name, size."""
        job = self.get(job_id, principal=principal)
        if not job.artifacts_url:
            return []
        backend = self._artifacts_of(job.artifacts_url)
        fs, root = backend.fs, backend.path
        with backend.errors():
            if not fs.exists(root):
                return []
            found = fs.find(root, detail=True)
        return [
            {"name": path[len(root) :].lstrip("/"), "size": info.get("size")}
            for path, info in sorted(found.items())
        ]

    def open_artifact(
        self, job_id: str, name: str, principal: Principal | None = None
    ) -> tuple[Any, int | None]:
        """An open binary handle on one artifact and its size; NotFound if absent."""
        job = self.get(job_id, principal=principal)
        if not job.artifacts_url or ".." in name.split("/"):
            raise NotFound(f"artifact '{name}' not found")
        backend = self._artifacts_of(job.artifacts_url)
        path = f"{backend.path}/{name.lstrip('/')}"
        with backend.errors():
            if not backend.fs.isfile(path):
                raise NotFound(f"artifact '{name}' not found for job '{job_id}'")
            return backend.fs.open(path, "rb"), backend.fs.size(path)

    def _artifacts_of(self, url: str) -> StorageBackend:
        """A job's artifact location, opened with its storage options (credentials)."""
        return open_url(url, "artifacts_url", **options_for(url, self.storage_options))
