"""Operational routes: liveness, readiness (after warm), Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from modelport.api.documents import Health, documented
from modelport.runtime import ModelRuntime
from modelport.settings import Settings


def operations_router(runtime: ModelRuntime, settings: Settings) -> APIRouter:
    """``/health/live``, ``/health/ready`` and ``/metrics``."""
    router = APIRouter(tags=["operations"])
    base = settings.base_path

    async def live() -> dict[str, Any]:
        return {"status": "alive"}

    async def ready() -> JSONResponse:
        models = {r.name: "ready" if r.ready else "warming" for r in runtime}
        ok = runtime.ready
        body = {"status": "ready" if ok else "warming", "models": models}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics() -> Response:
        for runner in runtime:
            if runner.warm_seconds is not None:
                runtime.metrics.warm_seconds.labels(runner.name).set(runner.warm_seconds)
        return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    router.add_api_route(
        f"{base}/health/live",
        live,
        methods=["GET"],
        summary="Liveness",
        response_model=None,
        responses=documented(Health),
    )
    router.add_api_route(
        f"{base}/health/ready",
        ready,
        methods=["GET"],
        summary="Readiness: 200 once every model is warm, 503 before",
        response_model=None,
        responses=documented(Health, **{"503": {"description": "A model is still warming"}}),
    )
    router.add_api_route(
        f"{base}/metrics",
        metrics,
        methods=["GET"],
        summary="Prometheus metrics",
        response_class=Response,
    )
    return router
