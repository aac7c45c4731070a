"""Assemble the training facility from Settings: store, executor, service."""

from __future__ import annotations

from modelport.db import connect
from modelport.jobs.executors.base import Executor
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore
from modelport.settings import Settings


def build_job_service(settings: Settings) -> JobService:
    """The job service configured by ``settings`` (store migrated, executor chosen)."""
    url = settings.store_url()
    store = JobStore(connect(url))

    def wake(_job_id: str) -> None:  # a job ended: its slots are free
        service.scheduler.wake()  # bound below, before any job can start

    executor: Executor
    if settings.executor == "ray":
        from modelport.jobs.executors.ray import RayExecutor

        executor = RayExecutor(
            store,
            store_url=url,
            address=settings.ray_address,
            num_cpus=settings.executor_cpus,
            num_gpus=settings.executor_gpus,
            cancel_grace=settings.cancel_grace,
            on_finish=wake,
        )
    else:
        from modelport.jobs.executors.local import LocalExecutor

        executor = LocalExecutor(
            store,
            store_url=url,
            cpus=settings.executor_cpus,
            gpus=settings.executor_gpus,
            cancel_grace=settings.cancel_grace,
            nice=settings.training_nice,
            idle_priority=settings.training_idle_priority,
            on_finish=wake,
        )
    service = JobService(
        store, executor, settings.artifacts_root(), settings.cancel_grace, settings.quotas
    )
    return service
