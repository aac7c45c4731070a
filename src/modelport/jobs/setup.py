"""Assemble the training facility from Settings: store, executor, service."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from modelport.db import connect
from modelport.jobs.context import ALLOWED_HOSTS_ENV, DATA_ROOTS_ENV
from modelport.jobs.domain import Job, JobKind
from modelport.jobs.executors.base import Executor
from modelport.jobs.notebook_paths import notebook_home, socket_dir
from modelport.jobs.notebook_sessions import NotebookSessions
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore
from modelport.sandbox.base import SandboxSpec
from modelport.settings import MiB, Settings
from modelport.storage.userdata import USER_DATA_ENV, UserData, area_of


def build_job_service(
    settings: Settings, *, confined: bool = False, replica: str | None = None
) -> JobService:
    """The job service configured by ``settings`` (store migrated, executor chosen).

    ``confined`` (the platform): trainings of catalog modules run in ``settings.sandbox`` (on
    either executor; a Ray node then needs the sandbox's tool and the paths it binds),
    seeing only their model's artifacts, their own artifact and state directories and the
    data roots (:func:`job_sandbox_spec`), with their memory capped. ``replica``: the name its
    jobs are leased under (default: the server's, ``settings.replica()``); a one-off process
    (``modelport train``, ``check``) passes a name of its own.
    """
    store = JobStore(
        connect(settings.store_url(), settings.migrate, settings.migrate_timeout),
        replica=replica or settings.replica(),
        lease_ttl=settings.job_lease_seconds,
    )

    def wake(_job_id: str) -> None:  # a job ended: its slots are free
        service.scheduler.wake()  # bound below, before any job can start

    # the rules a platform training's data= URLs follow (DataAccess.for_worker reads them);
    # its artifacts in a remote location are written by the job's channel with the platform's
    # storage options (modelport.jobs.uploads): the training gets no credentials
    from modelport.storage.backends import check_url

    rules = job_data_rules(settings) if confined else {}
    check_url(settings.artifacts_root(), "artifacts_url")  # no credentials in it
    sandbox = spec_for = memory = cpu_hours = None
    if confined:
        from modelport.sandbox import choose_sandbox

        sandbox = choose_sandbox(settings.sandbox, forbidden=(settings.data_dir,))
        memory, cpu_hours = settings.module_memory_mb, settings.training_cpu_hours

        def spec_for(job: Job) -> SandboxSpec:
            return job_sandbox_spec(settings, job)

    sessions = _notebook_sessions(settings, store) if confined else None
    notebook = sessions.secrets if sessions is not None else None

    def ended(job_id: str) -> None:  # its slots are free; a notebook's secrets are revoked
        if sessions is not None:
            sessions.release(job_id)
        wake(job_id)

    executor: Executor
    if settings.executor == "ray":
        from modelport.jobs.executors.ray import RayExecutor

        executor = RayExecutor(
            store,
            worker_env=rules,
            address=settings.ray_address,
            runtime_env=settings.ray_job_runtime_env,
            channel_port=settings.job_channel_port,
            num_cpus=settings.executor_cpus,
            num_gpus=settings.executor_gpus,
            cancel_grace=settings.cancel_grace,
            on_finish=ended,
            sandbox=sandbox,
            spec_for=spec_for,
            memory_mb=memory,
            cpu_hours=cpu_hours,
            storage_options=settings.storage_options,
            notebook=notebook,
        )
    else:
        from modelport.jobs.executors.local import LocalExecutor

        executor = LocalExecutor(
            store,
            cpus=settings.executor_cpus,
            gpus=settings.executor_gpus,
            cancel_grace=settings.cancel_grace,
            nice=settings.training_nice,
            idle_priority=settings.training_idle_priority,
            on_finish=ended,
            sandbox=sandbox,
            spec_for=spec_for,
            memory_mb=memory,
            worker_env=rules,
            cpu_hours=cpu_hours,
            storage_options=settings.storage_options,
            notebook=notebook,
        )
    user_data = None
    if confined:
        quota = settings.user_data_quota_mb
        user_data = UserData(settings.user_data_dir(), None if quota is None else quota * MiB)
    service = JobService(
        store,
        executor,
        settings.artifacts_root(),
        settings.cancel_grace,
        settings.quotas,
        user_data=user_data,
        storage_options=settings.storage_options,
        notebooks=sessions,
    )
    return service


def _notebook_sessions(settings: Settings, store: JobStore) -> NotebookSessions:
    """The platform's notebook secrets: an owner's token when sign-in is on (its tokens live in
    the store's database), ``MODELPORT_URL`` as users reach this server."""
    tokens = None
    if settings.auth == "oidc":
        from modelport.auth.tokens import TokenStore

        tokens = TokenStore(store.engine)
    return NotebookSessions(store, tokens, platform_url(settings), settings.data_dir)


def platform_url(settings: Settings) -> str:
    """The URL a notebook reaches this server at: ``public_url``, else its bind address."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}{settings.base_path}"


def one_off_replica(command: str) -> str:
    """A lease name for one command's process (``modelport train``): unique on the machine, so
    a server sharing the store never takes its jobs for its own."""
    return f"{command}:{socket.gethostname()}:{os.getpid()}"


def job_data_rules(settings: Settings) -> dict[str, str]:
    """What a platform training may read as training data (its process's environment): server
    paths under ``data_roots`` (and its own directories), hosts that resolve to public addresses
    or are in ``git_allowed_hosts``."""
    return {
        DATA_ROOTS_ENV: os.pathsep.join(str(root) for root in settings.data_roots),
        ALLOWED_HOSTS_ENV: ",".join(settings.git_allowed_hosts),
        USER_DATA_ENV: str(settings.user_data_dir()),
    }


def job_sandbox_spec(settings: Settings, job: Job) -> SandboxSpec:
    """What a training of a catalog module may see: its model version's artifacts, the data
    roots and its owner's data area (read-only), its own artifact directory and its module's
    state directory. A notebook: :func:`notebook_sandbox_spec`."""
    if job.kind is JobKind.NOTEBOOK:
        return notebook_sandbox_spec(settings, job)
    read_only = _readable(settings, job)
    state = settings.module_state_dir(job.model)
    writable = [state]
    if job.artifacts_url and "://" not in job.artifacts_url:  # a local directory: bound
        artifacts = Path(job.artifacts_url)
        artifacts.mkdir(parents=True, exist_ok=True)
        writable.append(artifacts)
    return SandboxSpec(
        read_only=tuple(read_only),
        writable=tuple(writable),
        network=job.model in settings.network_modules,
        workdir=state,
    )


def _readable(settings: Settings, job: Job) -> list[Path]:
    """What any job may read: its model version's artifacts, the data roots, its owner's data
    area (which data:// arguments name), those that exist."""
    read_only = [Path(job.model_dir)] if job.model_dir else []
    read_only += [root for root in settings.data_roots if root.is_dir()]
    if job.owner is not None:
        area = area_of(settings.user_data_dir(), job.owner)
        read_only += [area] if area.is_dir() else []
    return read_only


def notebook_sandbox_spec(settings: Settings, job: Job) -> SandboxSpec:
    """What a notebook may see: as a training, its module version's artifacts (if opened on
    one), the data roots and its owner's data area (read-only); its owner's notebook home and
    its socket's directory (writable; the home is its working directory); the network unless
    ``notebook_network`` is off (``pip install``, the platform's API)."""
    if job.owner is not None:  # there, as ~/data, even before its first upload
        area_of(settings.user_data_dir(), job.owner).mkdir(parents=True, exist_ok=True)
    read_only = _readable(settings, job)
    home = notebook_home(settings.data_dir, job.owner)
    sockets = socket_dir(job.id)
    for path in (home, sockets):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return SandboxSpec(
        read_only=tuple(read_only),
        writable=(home, sockets),
        network=settings.notebook_network,
        workdir=home,
    )
