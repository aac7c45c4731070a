"""A notebook's state, and JupyterLab through the platform: ``/notebooks/{id}/...``.

Every request and WebSocket under ``/notebooks/{id}/`` is its owner's only (404 for anybody
else, admins too: :func:`modelport.auth.policy.check_open_notebook`), authenticated as any
request is (session cookie or bearer token); a WebSocket, which the authentication middleware
does not see, is authenticated here, and must come from this server's pages (Origin), as
Jupyter's own check is skipped for a token it trusts. Then :mod:`modelport.notebooks.proxy`
carries it to the notebook's socket.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import anyio
import httpx
from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.responses import RedirectResponse, Response, StreamingResponse

from modelport.api.auth import (
    SESSION_COOKIE,
    CurrentPrincipal,
    bearer_token,
    check_same_origin,
    current_principal,
)
from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.errors import ExecutorError, ModelportError, Unauthorized
from modelport.jobs.domain import JobStatus
from modelport.notebooks.proxy import (
    PAGE_HEADERS,
    NotebookProxy,
    UpstreamUnavailable,
    downstream_headers,
    is_page,
    page_without_token,
    pump_websocket,
    upstream_headers,
)
from modelport.notebooks.service import NotebookService, Upstream
from modelport.settings import Settings

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class NotebookState(BaseModel):
    """A notebook as its owner sees it."""

    id: str
    status: JobStatus
    ready: bool = Field(description="JupyterLab answers: open url")
    url: str = Field(description="JupyterLab, through the platform")
    module: str | None = None
    idle_timeout_s: float
    max_lifetime_s: float
    started_at: datetime | None = None
    last_activity: datetime | None = Field(None, description="as JupyterLab last saw its use")
    kernels: int | None = None


class NotebookEndpoints:
    """One method per route; ``notebooks_router`` lays them out."""

    def __init__(self, notebooks: NotebookService, settings: Settings) -> None:
        self.notebooks = notebooks
        self.settings = settings
        self.proxy = NotebookProxy()

    async def state(self, job_id: str, principal: CurrentPrincipal) -> NotebookState:
        job = await anyio.to_thread.run_sync(self.notebooks.notebook, principal, job_id)
        said: dict[str, Any] = {}
        upstream = self.notebooks.running_here(principal, job_id)  # else not ready here
        if job.status is JobStatus.RUNNING and upstream is not None:
            with contextlib.suppress(UpstreamUnavailable, httpx.HTTPError, ValueError):
                said = await self._status(upstream)
        return NotebookState(
            id=job.id,
            status=job.status,
            ready=bool(said),
            url=f"{self.settings.base_path}/notebooks/{job.id}/lab",
            module=job.args.get("module"),
            idle_timeout_s=float(job.args["idle_timeout"]),
            max_lifetime_s=float(job.args["max_lifetime"]),
            started_at=job.started_at,
            last_activity=said.get("last_activity"),
            kernels=said.get("kernels"),
        )

    async def _upstream(self, principal: Principal, job_id: str) -> Upstream:
        """From memory when this replica runs it; else the database says why not (a thread)."""
        found = self.notebooks.running_here(principal, job_id)
        if found is not None:
            return found
        return await anyio.to_thread.run_sync(self.notebooks.upstream, principal, job_id)

    async def _status(self, upstream: Upstream) -> dict[str, Any]:
        target = f"{self.settings.base_path}/notebooks/{upstream.job_id}/api/status"
        headers = upstream_headers([], upstream.token)
        answer = await self.proxy.send(upstream.socket, "GET", target, headers, None)
        try:
            await answer.aread()
        finally:
            await answer.aclose()
        return dict(answer.json()) if answer.status_code == 200 else {}

    async def enter(self, request: Request) -> Response:
        """``/notebooks/{id}`` (as typed): its JupyterLab, once it is one's own."""
        job_id = request.path_params["job_id"]
        await self._upstream(await current_principal(request), job_id)  # 404, 409 as for it
        return RedirectResponse(f"{self.settings.base_path}/notebooks/{job_id}/lab", 307)

    async def forward(self, request: Request) -> Response:
        """A plain Starlette endpoint (every request of an open JupyterLab comes here: no
        FastAPI dependencies or validation on the way)."""
        job_id, path = request.path_params["job_id"], request.path_params["path"]
        principal = await current_principal(request)
        upstream = await self._upstream(principal, job_id)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        target = httpx.URL(raw_path=raw + (b"?" + query if query else b""))
        headers = upstream_headers(request.headers.items(), upstream.token)
        body = request.stream() if request.method not in ("GET", "HEAD") else None
        try:
            answer = await self.proxy.send(upstream.socket, request.method, target, headers, body)
        except UpstreamUnavailable as exc:
            raise ExecutorError(
                f"notebook '{job_id}' does not answer (starting or stopping?)"
            ) from exc
        if is_page(path, answer):  # JupyterLab's pages would hand the browser Jupyter's token
            try:
                page = await page_without_token(answer, upstream.token)
            except UpstreamUnavailable as exc:
                raise ExecutorError(str(exc)) from exc
            kept = [(k, v) for k, v in downstream_headers(answer.headers) if k not in PAGE_HEADERS]
            return Response(page, answer.status_code, headers=dict(kept))
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=dict(downstream_headers(answer.headers)),
            background=BackgroundTask(answer.aclose),
        )

    async def websocket(self, websocket: WebSocket, job_id: str, path: str) -> None:
        from websockets.asyncio.client import unix_connect
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.typing import Subprotocol

        try:
            principal = await self._websocket_principal(websocket)
            upstream = await self._upstream(principal, job_id)
        except ModelportError:
            await websocket.close(code=1008)  # before accepting: the browser sees a 403
            return
        offered = websocket.headers.get("sec-websocket-protocol", "")
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        raw = websocket.scope.get("raw_path") or websocket.url.path.encode()
        query = websocket.scope.get("query_string", b"")
        uri = "ws://localhost" + (raw + (b"?" + query if query else b"")).decode("latin-1")
        try:
            connection = unix_connect(
                str(upstream.socket),
                uri,
                subprotocols=[Subprotocol(p) for p in protocols] or None,
                additional_headers={"Authorization": f"token {upstream.token}"},
                compression=None,
                max_size=None,
                open_timeout=10,
            )
            async with connection as server:
                await websocket.accept(subprotocol=server.subprotocol)
                await pump_websocket(websocket, server)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=1011)

    async def _websocket_principal(self, websocket: WebSocket) -> Principal:
        """Who opens it: the bearer token, else the session cookie from this server's pages."""
        authenticator = getattr(websocket.app.state, "authenticator", None)
        if authenticator is None:  # auth off: the local guard checked Host and Origin
            return LOCAL_PRINCIPAL
        token = bearer_token(websocket)
        if token is None:  # the session cookie: from this server's pages only (CSRF)
            check_same_origin(websocket, self.settings)
            token = websocket.cookies.get(SESSION_COOKIE)
        if not token:
            raise Unauthorized("sign in first")
        principal: Principal = await anyio.to_thread.run_sync(authenticator.authenticate, token)
        return principal


def notebooks_router(notebooks: NotebookService, settings: Settings) -> APIRouter:
    """``GET /jobs/{id}/notebook`` and everything under ``/notebooks/{id}/``."""
    router = APIRouter(prefix=settings.base_path, tags=["notebooks"])
    endpoints = NotebookEndpoints(notebooks, settings)
    router.add_api_route(
        "/jobs/{job_id}/notebook",
        endpoints.state,
        methods=["GET"],
        summary="A notebook's state: whether JupyterLab is ready, where, its limits",
    )
    router.add_route(
        "/notebooks/{job_id}", endpoints.enter, methods=["GET"], include_in_schema=False
    )
    router.add_route(
        "/notebooks/{job_id}/{path:path}",
        endpoints.forward,
        methods=METHODS,
        include_in_schema=False,
    )
    router.add_api_websocket_route("/notebooks/{job_id}/{path:path}", endpoints.websocket)
    router.add_event_handler("shutdown", endpoints.proxy.close)
    return router
