"""DEEPaaS v2 training routes over the job service (one id in both views: uuid = job id).

The legacy view shows queued jobs as ``running`` and maps the end states to DEEPaaS's
``done``, ``error`` (with ``message``) and ``cancelled``. DELETE works as DEEPaaS's: it cancels
a training still going, answers it, and from then on the training is gone from this view
(404, not listed); the ``/jobs`` history keeps it. Models without ``train()`` answer 501 to
POST and ``[]`` to the list, as DEEPaaS does (also when the server has no job store at all).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request

from modelport.api.arguments import read_arguments
from modelport.api.auth import CurrentPrincipal
from modelport.api.uploads import UploadStore
from modelport.auth import policy
from modelport.errors import InvalidInput, NotFound
from modelport.jobs.domain import Job, JobKind, JobStatus
from modelport.jobs.facility import Facility
from modelport.jobs.targets import TrainingTargets
from modelport.settings import Settings

_LEGACY_STATUS = {
    JobStatus.QUEUED: "running",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "error",
    JobStatus.CANCELLED: "cancelled",
}


def _local(moment: datetime) -> str:
    return str(moment.astimezone().replace(tzinfo=None))  # DEEPaaS: str(datetime.now())


def legacy_view(job: Job) -> dict[str, Any]:
    """A job as DEEPaaS 2.6 shows a training."""
    view: dict[str, Any] = {
        "date": _local(job.created_at),
        "args": job.shown_args if job.shown_args is not None else job.args,
        "uuid": job.id,
        "status": _LEGACY_STATUS[job.status],
    }
    if job.status is JobStatus.SUCCEEDED and job.finished_at is not None:
        view["result"] = {
            "output": job.result,
            "finish_date": _local(job.finished_at),
            "duration": str(job.finished_at - job.created_at),
        }
    elif job.status is JobStatus.FAILED:
        view["message"] = job.error or "failed"
    return view


def training_router(
    targets: TrainingTargets, jobs: Facility, settings: Settings, uploads: UploadStore
) -> APIRouter:
    """``/v2/models/{name}/train/`` (POST, GET) and ``.../train/{uuid}`` (GET, DELETE)."""
    router = APIRouter(tags=["training (DEEPaaS v2)"])
    base = f"{settings.base_path}/v2/models/{{name}}/train"

    async def train(name: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
        policy.check_train(principal)
        with uploads.area() as area:
            raw = await read_arguments(request, area, settings.max_upload_size)
            if raw.multi and any(not isinstance(v, str) for vs in raw.multi.values() for v in vs):
                raise InvalidInput({"_schema": ["Training arguments cannot be files."]})
            plan = await targets.prepare(name, None, raw, principal)

        def enqueue() -> Job:
            return jobs.get().enqueue(
                model=plan.model,
                spec=plan.spec,
                args=plan.args,
                version=plan.version,
                model_dir=plan.model_dir,
                shown_args=plan.shown_args,
                principal=principal,
            )

        return legacy_view(await anyio.to_thread.run_sync(enqueue))

    async def list_trainings(name: str, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        if not await targets.trainable(name, principal):
            return []
        page = await anyio.to_thread.run_sync(
            lambda: jobs.get().list_jobs(
                principal, model=name, dismissed=False, kind=JobKind.TRAINING, limit=10_000
            )
        )
        return [legacy_view(job) for job in reversed(page.items)]

    async def get_training(name: str, uuid: str, principal: CurrentPrincipal) -> dict[str, Any]:
        await targets.trainable(name, principal)
        job = await anyio.to_thread.run_sync(
            lambda: jobs.get().get(uuid, model=name, principal=principal)
        )
        if job.dismissed_at is not None:
            raise NotFound(f"training '{uuid}' not found")
        return legacy_view(job)

    async def delete_training(name: str, uuid: str, principal: CurrentPrincipal) -> dict[str, Any]:
        await targets.trainable(name, principal)

        def dismiss() -> Job:
            service = jobs.get()
            wait = service.cancel_grace + 1.0
            return service.dismiss(uuid, name, wait=wait, principal=principal)

        return legacy_view(await anyio.to_thread.run_sync(dismiss))

    # documented per model by api/openapi.py, with each model's training arguments
    hidden: dict[str, Any] = {"include_in_schema": False, "response_model": None}
    for path in (base, f"{base}/"):
        router.add_api_route(path, train, methods=["POST"], **hidden)
        router.add_api_route(path, list_trainings, methods=["GET"], **hidden)
    for path in (f"{base}/{{uuid}}", f"{base}/{{uuid}}/"):
        router.add_api_route(path, get_training, methods=["GET"], **hidden)
        router.add_api_route(path, delete_training, methods=["DELETE"], **hidden)
    return router
