"""DEEPaaS v2 routes: versions, the model list, a model's metadata, predict.

Every path answers with and without its trailing slash (no redirect).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from modelport.api.arguments import read_arguments
from modelport.api.documents import ModelList, ModelMeta, Version, Versions, documented
from modelport.api.errors import error_response, status_of
from modelport.api.streams import stream_response
from modelport.api.uploads import UploadStore
from modelport.contract import tensors
from modelport.contract.streaming import wants_stream
from modelport.errors import InvalidInput, ModelportError, Overloaded, PredictTimeout
from modelport.runtime import ModelRunner, ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings

ERROR_KINDS: dict[type[ModelportError], str] = {
    InvalidInput: "invalid_input",
    Overloaded: "overloaded",
    PredictTimeout: "timeout",
}


def _link(rel: str, href: str, media_type: str | None = None) -> dict[str, str]:
    link = {"rel": rel}
    if media_type:
        link["type"] = media_type
    link["href"] = href
    return link


def version_v2(base: str) -> dict[str, Any]:
    """The v2 version document."""
    return {
        "version": "stable",
        "id": "v2",
        "links": [_link("self", f"{base}/v2/", "application/json")],
    }


def model_document(runner: ModelRunner, base: str) -> dict[str, Any]:
    """A model's metadata with DEEPaaS's defaults and its self link underneath; a typed model's
    adds the Open Inference Protocol's keys (one document for both, see ``api/oip.py``)."""
    self_link = _link("self", f"{base}/v2/models/{runner.name}")
    doc: dict[str, Any] = {"id": runner.name, "name": runner.name, "links": [self_link]}
    doc.update(runner.model.metadata())
    links = doc["links"]
    if isinstance(links, list) and not any(
        isinstance(link, dict) and link.get("rel") == "self" for link in links
    ):
        doc["links"] = [self_link, *links]
    if runner.model.kind == "typed":
        doc.update(tensors.model_metadata(runner.model))
    return doc


def add_paths(router: APIRouter, path: str, endpoint: Any, methods: list[str], **kw: Any) -> None:
    """Register ``path`` and its twin without the trailing slash on the same endpoint.

    The documents name the trailing-slash form, as DEEPaaS writes its paths.
    """
    bare = path.rstrip("/") or "/"
    router.add_api_route(f"{bare}/", endpoint, methods=methods, **kw)
    router.add_api_route(bare, endpoint, methods=methods, include_in_schema=False, **kw)


def model_router(runtime: ModelRuntime, settings: Settings, *, models: bool = True) -> APIRouter:
    """The DEEPaaS-compatible routes for the served models (only the version documents when
    ``models`` is false: the platform's gateway serves the model routes then)."""
    router = APIRouter()
    base = settings.base_path

    async def versions() -> dict[str, Any]:
        return {
            "versions": [version_v2(base)],
            "links": [
                _link("help", f"{base}/api", "text/html"),
                _link("describedby", f"{base}/swagger.json", "application/json"),
            ],
        }

    async def v2() -> dict[str, Any]:
        return version_v2(base)

    async def debug() -> Response:
        # DEEPaaS answers 204 unless started with --debug-endpoint (a tee of its logs); modelport
        # has no such tee: its logs go to the server's own output.
        return Response(status_code=204)

    async def list_models() -> dict[str, Any]:
        return {"models": [model_document(r, base) for r in runtime]}

    async def get_model(name: str) -> dict[str, Any]:
        return model_document(runtime.get(name), base)

    router.add_api_route(
        base or "/",
        versions,
        methods=["GET"],
        summary="API versions",
        tags=["versions"],
        response_model=None,
        responses=documented(Versions),
    )
    if base:
        router.add_api_route(f"{base}/", versions, methods=["GET"], include_in_schema=False)
    add_paths(
        router,
        f"{base}/v2",
        v2,
        ["GET"],
        summary="The v2 API",
        response_model=None,
        responses=documented(Version),
        tags=["versions"],
    )
    add_paths(
        router,
        f"{base}/v2/debug",
        debug,
        ["GET"],
        summary="Debug output (empty: see the server's log)",
        response_model=None,
        status_code=204,
        tags=["debug"],
    )
    if not models:
        return router
    add_paths(
        router,
        f"{base}/v2/models",
        list_models,
        ["GET"],
        summary="Served models and their metadata",
        response_model=None,
        responses=documented(ModelList),
        tags=["models"],
    )
    add_paths(
        router,
        f"{base}/v2/models/{{name}}",
        get_model,
        ["GET"],
        summary="A model's metadata",
        response_model=None,
        responses=documented(ModelMeta, **{"404": {"description": "Model not found"}}),
        tags=["models"],
    )
    return router


@contextlib.contextmanager
def recorded(metrics: ServingMetrics, model: str, endpoint: str) -> Iterator[None]:
    """Count a model request by its answer's status and time it; a failure also by its kind."""
    started = time.perf_counter()
    status = 200
    try:
        yield
    except ModelportError as exc:
        status = status_of(exc)
        kind = next((v for k, v in ERROR_KINDS.items() if isinstance(exc, k)), None)
        metrics.errors.labels(model, kind or type(exc).__name__).inc()
        raise
    finally:
        metrics.requests.labels(model, endpoint, str(status)).inc()
        metrics.latency.labels(model, endpoint).observe(time.perf_counter() - started)


class PredictEndpoint:
    """``POST /v2/models/{name}/predict/``: an ASGI app of its own, errors answered here.

    ``serve`` routes to it (no dependency resolution); a catalog module's worker calls it
    directly for every prediction the gateway sends (``app.state.predict``), skipping the
    app's routing and middleware it has no use for on a private channel. Same answers either way.
    """

    def __init__(self, runtime: ModelRuntime, settings: Settings, uploads: UploadStore) -> None:
        self.runtime = runtime
        self.settings = settings
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.answer(request, request.path_params["name"])
        except ModelportError as exc:
            label = f"{request.method} {request.url.path}"
            response = error_response(exc, self.settings.debug, label)
        await response(scope, receive, send)

    async def answer(self, request: Request, name: str) -> Response:
        """Validate, predict, encode; ModelportError for the caller's or the model's failure."""
        runner = self.runtime.get(name)
        with recorded(self.runtime.metrics, runner.name, "predict"), self.uploads.area() as area:
            raw = await read_arguments(request, area, self.settings.max_upload_size)
            kwargs = runner.prepare(raw)
            accept = request.headers.get("accept")
            if runner.model.streaming and wants_stream(accept):
                return await stream_response(runner, kwargs, area, accept, self.settings.debug)
            result = await runner.predict(kwargs, inputs=area)
        headers = None
        if result.filename:
            headers = {"Content-Disposition": f'attachment; filename="{result.filename}"'}
        return Response(result.content, media_type=result.media_type, headers=headers)


def add_predict_routes(
    app: FastAPI, runtime: ModelRuntime, settings: Settings, uploads: UploadStore
) -> None:
    """``POST /v2/models/{name}/predict/`` (documented separately); the endpoint is also
    ``app.state.predict``."""
    predict = PredictEndpoint(runtime, settings, uploads)
    app.state.predict = predict
    path = f"{settings.base_path}/v2/models/{{name}}/predict"
    for each in (path, f"{path}/"):
        app.router.routes.append(Route(each, predict, methods=["POST"], include_in_schema=False))
