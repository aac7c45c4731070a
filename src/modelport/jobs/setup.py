"""Assemble the training facility from Settings: store, executor, service."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from modelport.db import connect
from modelport.jobs.context import ALLOWED_HOSTS_ENV, DATA_ROOTS_ENV
from modelport.jobs.domain import Job
from modelport.jobs.executors.base import Executor
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
            on_finish=wake,
            sandbox=sandbox,
            spec_for=spec_for,
            memory_mb=memory,
            cpu_hours=cpu_hours,
            storage_options=settings.storage_options,
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
            on_finish=wake,
            sandbox=sandbox,
            spec_for=spec_for,
            memory_mb=memory,
            worker_env=rules,
            cpu_hours=cpu_hours,
            storage_options=settings.storage_options,
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
    )
    return service


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
    state directory."""
    read_only = [Path(job.model_dir)] if job.model_dir else []
    read_only += [root for root in settings.data_roots if root.is_dir()]
    if job.owner is not None:  # its owner's data area, which data:// arguments name
        area = area_of(settings.user_data_dir(), job.owner)
        read_only += [area] if area.is_dir() else []
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
