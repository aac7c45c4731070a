"""The notebook use cases: start one (on a module or not), find the one to proxy, say its state.

A notebook is a job (:class:`~modelport.jobs.domain.JobKind` ``notebook``) queued through the
job service, so its resources, quotas (GPU-hours too), sandbox, logs, Stop and My jobs are a
training's. What it adds: its owner's notebook home (``<data_dir>/notebooks/<area>``, kept
between notebooks), the module's source checked out there when opened on a module
(:mod:`~modelport.notebooks.sources`), the idle timeout and maximum lifetime (at most the
platform's), and the grant its ``MODELPORT_TOKEN`` is made with (the starter's scopes, roles and
groups: :mod:`modelport.jobs.notebook_sessions`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.auth import policy
from modelport.auth.config import Principal
from modelport.auth.tokens import grantable_scopes
from modelport.catalog.domain import LATEST
from modelport.catalog.git import GitPolicy
from modelport.errors import Conflict, ExecutorError, InvalidInput, NotFound
from modelport.jobs.domain import Job, JobKind, JobStatus, Resources
from modelport.jobs.notebook_paths import notebook_home, socket_path
from modelport.notebooks.sources import checkout_module
from modelport.settings import MiB, Settings

if TYPE_CHECKING:
    from modelport.catalog.service import CatalogService
    from modelport.jobs.service import JobService

#: A notebook job's ``model`` when it was not opened on a module.
NO_MODULE = "-"


@dataclass(frozen=True)
class NotebookRequest:
    """What a user asks for."""

    resources: Resources
    module: str | None = None
    version: str | None = None
    idle_minutes: float | None = None
    max_hours: float | None = None


@dataclass(frozen=True)
class Upstream:
    """Where the proxy sends a notebook's requests, and with what token."""

    job_id: str
    socket: Path
    token: str


class NotebookService:
    """Notebooks on the platform."""

    def __init__(self, jobs: JobService, catalog: CatalogService, settings: Settings) -> None:
        self.jobs = jobs
        self.catalog = catalog
        self.settings = settings

    def start(self, principal: Principal, request: NotebookRequest) -> Job:
        """Queue a notebook of ``principal``'s (Forbidden without the trainer role, the
        resources and quota checked as for a training); on ``module``: its source in the home."""
        policy.check_train(principal)
        if importlib.util.find_spec("jupyterlab") is None:
            raise ExecutorError(
                "JupyterLab is not installed on this platform (pip install 'modelport[notebooks]')"
            )
        idle, lifetime = self._timeouts(request)
        home = notebook_home(self.settings.data_dir, principal.identity)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        args: dict[str, Any] = {
            "base_path": self.settings.base_path,
            "idle_timeout": idle,
            "max_lifetime": lifetime,
            "grant": {
                "scopes": grantable_scopes(principal),
                "roles": sorted(principal.roles),
                "groups": list(principal.groups),
                "name": principal.name or principal.preferred_username,
            },
        }
        model, version, model_dir = NO_MODULE, None, None
        if request.module is not None:
            record = self.catalog.version(request.module, request.version or LATEST, principal)
            if record.pipeline is not None:
                raise InvalidInput(
                    {"model": [f"'{record.module}' is a pipeline: open its steps' modules"]}
                )
            git = GitPolicy.for_publishers(
                allow_ssh=self.settings.git_allow_ssh,
                allowed_hosts=self.settings.git_allowed_hosts,
                max_bytes=self.settings.git_max_size_mb * MiB,
            )
            checkout, said = checkout_module(record, home, git)
            model, version = record.module, record.version
            found = self.settings.model_version_dir(record.module, record.version)
            model_dir = str(found) if found.is_dir() else None
            args |= {"module": model, "source": said}
            if checkout is not None:  # first on the kernels' import path
                args["checkout"] = checkout.name
        job = Job(
            kind=JobKind.NOTEBOOK,
            model=model,
            model_spec="jupyterlab",
            version=version,
            model_dir=model_dir,
            args=args,
            owner=principal.identity,
            resources=request.resources,
        )
        return self.jobs.queue(job, principal)

    def _timeouts(self, request: NotebookRequest) -> tuple[float, float]:
        """The idle timeout and maximum lifetime in seconds: the request's, at most the
        platform's (``notebook_idle_minutes``, ``notebook_max_hours``)."""
        most_idle, most_hours = (
            self.settings.notebook_idle_minutes,
            self.settings.notebook_max_hours,
        )
        idle = most_idle if request.idle_minutes is None else request.idle_minutes
        hours = most_hours if request.max_hours is None else request.max_hours
        errors: dict[str, list[str]] = {}
        if not 0 < idle <= most_idle:
            errors["idle_minutes"] = [f"Must be more than 0 and at most {most_idle:g}."]
        if not 0 < hours <= most_hours:
            errors["max_hours"] = [f"Must be more than 0 and at most {most_hours:g}."]
        if errors:
            raise InvalidInput(errors)
        return idle * 60, hours * 3600

    def notebook(self, principal: Principal, job_id: str) -> Job:
        """One of ``principal``'s own notebooks; NotFound for anybody else's, or a training."""
        job = self.jobs.get(job_id)
        policy.check_open_notebook(principal, job_id, job.owner)
        if job.kind is not JobKind.NOTEBOOK:
            raise NotFound(f"notebook '{job_id}' not found")
        return job

    def running_here(self, principal: Principal, job_id: str) -> Upstream | None:
        """Where to proxy a request to ``principal``'s notebook when this replica runs it, from
        memory alone (every request of an open JupyterLab comes here: no database read); None
        when it does not run here (:meth:`upstream` says why)."""
        sessions = self.jobs.notebooks
        session = sessions.session(job_id) if sessions is not None else None
        if session is None:
            return None
        policy.check_open_notebook(principal, job_id, session.owner)
        return Upstream(job_id, socket_path(job_id), session.jupyter_token)

    def upstream(self, principal: Principal, job_id: str) -> Upstream:
        """Where to proxy a request to ``principal``'s running notebook; NotFound for another's,
        Conflict while it is not running, or when another replica runs it."""
        found = self.running_here(principal, job_id)
        if found is not None:
            return found
        job = self.notebook(principal, job_id)
        if job.status is not JobStatus.RUNNING:
            raise Conflict(f"notebook '{job_id}' is {job.status.value}, not running")
        where = f" ({job.lease_owner})" if job.lease_owner else ""
        raise Conflict(f"notebook '{job_id}' runs on another replica{where}: open it there")
