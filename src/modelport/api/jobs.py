"""The job API: list, inspect, follow (Server-Sent Events), cancel, retry, artifacts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import anyio
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from modelport.api.auth import CurrentPrincipal
from modelport.auth import policy
from modelport.auth.config import Principal
from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput
from modelport.jobs.domain import Job, JobEvent, JobKind, JobStatus, Metric, Resources
from modelport.jobs.facility import Facility
from modelport.jobs.targets import TrainingTargets
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.jobs.service import JobService
    from modelport.notebooks.service import NotebookService

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.25


class JobRequest(BaseModel):
    """A training to run, or a notebook to open (``kind``)."""

    kind: JobKind = Field(JobKind.TRAINING, description="training, or notebook (JupyterLab)")
    model: str | None = Field(
        None,
        description="A served model's (or catalog module's) name; a notebook: the module whose "
        "source to check out (optional)",
    )
    version: str | None = Field(
        None, description="On the platform: a catalog version or alias (default: latest)"
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Its training arguments")
    resources: Resources = Field(default_factory=Resources)
    priority: int = Field(0, description="Higher runs first")
    max_attempts: int = Field(1, ge=1, le=100, description="Runs allowed if the server dies")
    idle_minutes: float | None = Field(
        None,
        description="A notebook: stop it after this long unused (default and most: the "
        "platform's notebook_idle_minutes)",
    )
    max_hours: float | None = Field(
        None,
        description="A notebook: stop it this long after it started (most: notebook_max_hours)",
    )


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    jobs: list[Job]
    total: int
    limit: int
    offset: int


class LogPage(BaseModel):
    """Log lines ``offset`` .. ``next_offset - 1``."""

    lines: list[str]
    offset: int
    next_offset: int


class Artifact(BaseModel):
    """A file a job wrote."""

    name: str
    size: int | None
    href: str


def _sse(event_id: int, kind: str, data: dict[str, Any]) -> bytes:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()


class JobEndpoints:
    """The ``/jobs`` endpoints, one method per route (what a submission names is resolved by
    ``targets``); ``jobs_router`` lays them out."""

    def __init__(
        self,
        targets: TrainingTargets,
        facility: Facility,
        settings: Settings,
        notebooks: NotebookService | None = None,
    ) -> None:
        self.targets = targets
        self.facility = facility
        self.settings = settings
        self.notebooks = notebooks

    @property
    def jobs(self) -> JobService:
        """The job service (a deferred one is waited for: call it off the event loop)."""
        return self.facility.get()

    async def submit(self, request: JobRequest, principal: CurrentPrincipal) -> Job:
        policy.check_train(principal)
        if request.kind is JobKind.NOTEBOOK:
            return await self._open_notebook(request, principal)
        if request.model is None:
            raise InvalidInput({"model": ["Field required: the model to train."]})
        plan = await self.targets.prepare(
            request.model, request.version, RawArgs(json=request.args), principal
        )

        def enqueue() -> Job:
            return self.jobs.enqueue(
                model=plan.model,
                spec=plan.spec,
                args=plan.args,
                version=plan.version,
                model_dir=plan.model_dir,
                resources=request.resources,
                priority=request.priority,
                max_attempts=request.max_attempts,
                principal=principal,
            )

        return await anyio.to_thread.run_sync(enqueue)

    async def _open_notebook(self, request: JobRequest, principal: Principal) -> Job:
        if self.notebooks is None:
            raise InvalidInput({"kind": ["This server opens no notebooks (the platform does)."]})
        from modelport.notebooks.service import NotebookRequest

        wanted = NotebookRequest(
            resources=request.resources,
            module=request.model,
            version=request.version,
            idle_minutes=request.idle_minutes,
            max_hours=request.max_hours,
        )
        return await anyio.to_thread.run_sync(self.notebooks.start, principal, wanted)

    def list_jobs(
        self,
        *,
        principal: CurrentPrincipal,
        model: str | None = None,
        status: Annotated[list[JobStatus] | None, Query()] = None,
        owner: str | None = None,
        kind: JobKind | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> JobPage:
        page = self.jobs.list_jobs(
            principal,
            model=model,
            status=status,
            owner=owner,
            kind=kind,
            limit=limit,
            offset=offset,
        )
        return JobPage(jobs=page.items, total=page.total, limit=limit, offset=offset)

    def get_job(self, job_id: str, principal: CurrentPrincipal) -> Job:
        return self.jobs.get(job_id, principal=principal)

    def metrics(self, job_id: str, principal: CurrentPrincipal) -> list[Metric]:
        return self.jobs.metrics(job_id, principal=principal)

    def logs(
        self,
        job_id: str,
        principal: CurrentPrincipal,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> LogPage:
        lines = self.jobs.logs(job_id, offset=offset, limit=limit, principal=principal)
        return LogPage(lines=lines, offset=offset, next_offset=offset + len(lines))

    def cancel(self, job_id: str, principal: CurrentPrincipal) -> Job:
        return self.jobs.cancel(job_id, principal=principal)

    def retry(self, job_id: str, principal: CurrentPrincipal) -> Job:
        return self.jobs.retry(job_id, principal=principal)

    def artifacts(self, job_id: str, principal: CurrentPrincipal) -> list[Artifact]:
        base = f"{self.settings.base_path}/jobs/{job_id}/artifacts"
        return [
            Artifact(name=a["name"], size=a["size"], href=f"{base}/{a['name']}")
            for a in self.jobs.artifacts(job_id, principal=principal)
        ]

    def download(self, job_id: str, name: str, principal: CurrentPrincipal) -> StreamingResponse:
        handle, size = self.jobs.open_artifact(job_id, name, principal=principal)
        headers = {"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'}
        if size is not None:
            headers["Content-Length"] = str(size)
        return StreamingResponse(
            _chunks(handle), media_type="application/octet-stream", headers=headers
        )

    async def events(
        self,
        job_id: str,
        request: Request,
        principal: CurrentPrincipal,
        last_event_id: Annotated[str | None, Header()] = None,
        after: Annotated[int | None, Query(ge=0, description="Resume after this event id")] = None,
    ) -> StreamingResponse:
        start = after if after is not None else int(last_event_id or 0)

        def watch(after: int) -> tuple[Job, list[JobEvent]]:
            return self.jobs.watch(job_id, after=after, principal=principal)

        # the first look checks the caller may see the job, before the stream starts (404)
        first = await anyio.to_thread.run_sync(partial(watch, after=start))
        return StreamingResponse(
            _follow(watch=watch, first=first, after=start, request=request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def jobs_router(
    targets: TrainingTargets,
    jobs: Facility,
    settings: Settings,
    notebooks: NotebookService | None = None,
) -> APIRouter:
    """The ``/jobs`` routes, in matching order (what a submission names is resolved by
    ``targets``; a notebook is opened by ``notebooks``, the platform's)."""
    router = APIRouter(prefix=f"{settings.base_path}/jobs", tags=["jobs"])
    endpoints = JobEndpoints(targets, jobs, settings, notebooks)
    add = router.add_api_route
    add(
        "",
        endpoints.submit,
        methods=["POST"],
        status_code=201,
        summary="Submit a training job, or open a notebook (kind: notebook)",
    )
    add(
        "",
        endpoints.list_jobs,
        methods=["GET"],
        summary="List your jobs (admins: everyone's, filtered by owner)",
    )
    add("/{job_id}", endpoints.get_job, methods=["GET"], summary="A job")
    add(
        "/{job_id}/metrics",
        endpoints.metrics,
        methods=["GET"],
        summary="A job's metrics, as time series points",
    )
    add("/{job_id}/logs", endpoints.logs, methods=["GET"], summary="A job's log lines")
    add(
        "/{job_id}/cancel",
        endpoints.cancel,
        methods=["POST"],
        summary="Cancel a job (409 if it already finished)",
    )
    add(
        "/{job_id}/retry",
        endpoints.retry,
        methods=["POST"],
        status_code=201,
        summary="Run a finished job again",
    )
    add(
        "/{job_id}/artifacts", endpoints.artifacts, methods=["GET"], summary="The files a job wrote"
    )
    add(
        "/{job_id}/artifacts/{name:path}",
        endpoints.download,
        methods=["GET"],
        summary="Download an artifact",
        response_class=StreamingResponse,
    )
    add(
        "/{job_id}/events",
        endpoints.events,
        methods=["GET"],
        summary="Follow a job: Server-Sent Events (status, progress, metric, log, artifact)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    return router


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """An artifact's bytes in 64 KiB chunks, closing it once read."""
    with handle:
        while chunk := handle.read(1 << 16):
            yield chunk


Watch = Callable[..., tuple[Job, list[JobEvent]]]


async def _follow(
    *, watch: Watch, first: tuple[Job, list[JobEvent]], after: int, request: Request
) -> AsyncIterator[bytes]:
    """Stream events after ``after`` until the job has finished and everything was sent.

    ``watch(after=...)`` reads the job's status first: every event written before it finished
    is then in the batch; ``first`` is its first answer.
    """
    idle = 0.0
    job, batch = first
    while True:
        for event in batch:
            after = event.id
            yield _sse(event.id, event.kind.value, {**event.data, "at": event.at.isoformat()})
        if batch:
            idle = 0.0
        else:
            if job.status.finished:
                yield _sse(after, "end", {"status": job.status.value})
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS
            if idle >= HEARTBEAT_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
        job, batch = await anyio.to_thread.run_sync(partial(watch, after=after))
