"""The platform's DEEPaaS v2 routes for every catalog module, served on demand by the model pool.

The model list and a module's metadata come from the catalog, without loading anything. Predict
(the latest version, or any version or alias), a version's metadata and a module's own OpenAPI
document are proxied to the module's worker process, started on first use: the worker's app
parses, validates and answers, so responses are byte-for-byte those of ``modelport serve``.
Proxied responses name the version that answered (``X-Modelport-Model-Version``; a yanked one adds
``Warning: 299 modelport "version V is yanked: <reason>"``); one that
waited for the worker to start says how long (``X-Modelport-Cold-Start`` in seconds, and
``Server-Timing: cold-start;dur=<ms>``). A predict to an alias under a rollout goes to the version
the rollout picks (``modelport.rollouts``: ``RolloutRouter``, the one hook in ``_proxy``). A
module that is a pipeline is answered by its engine (``api/pipelines.py`` ``PipelineCalls``):
its predict runs its steps, its OpenAPI document is derived from them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.api.auth import current_principal
from modelport.api.documents import ModelList, ModelMeta, documented
from modelport.api.errors import error_response
from modelport.api.models import add_paths
from modelport.api.oip_proxy import ProxiedInference, add_proxied_routes
from modelport.auth import policy
from modelport.catalog.domain import LATEST, ModuleRecord, VersionRecord
from modelport.catalog.service import CatalogService
from modelport.errors import BadRequest, Forbidden, ModelportError, NotFound
from modelport.gateway.base import ModelServer
from modelport.gateway.exposure import MODEL_RESPONSE_POLICY, module_document
from modelport.gateway.process import AnswerParts, GatewayResponse
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.api.pipelines import PipelineCalls
    from modelport.rollouts.router import RolloutRouter

log = logging.getLogger(__name__)

#: Checks the caller may use a module; raises Unauthorized or Forbidden (wired by the platform).
Authorize = Callable[[Request, ModuleRecord], Awaitable[None]]

ModuleName = Annotated[str, Path(description="The catalog module's name")]
VersionRef = Annotated[str, Path(description="a version (1.2.0) or an alias (latest, stable)")]

_NOT_FOUND = {"404": {"description": "No such module, version or alias"}}
_PREDICT_DOC: dict[str, Any] = {
    "requestBody": {
        "description": "The module's predict arguments: in the query string, a form, multipart "
        "(files) or a JSON object; see the module's own OpenAPI document for them.",
        "required": False,
        "content": {
            media: {"schema": {"type": "object"}}
            for media in (
                "application/json",
                "multipart/form-data",
                "application/x-www-form-urlencoded",
            )
        },
    },
}
_PROXIED = {
    "200": {"description": "The module's answer, exactly as `modelport serve` gives it"},
    "404": _NOT_FOUND["404"],
    "422": {"description": "Invalid arguments: {field: [messages]}"},
    "503": {"description": "The module cannot be loaded now (the message says why)"},
}


async def authorize_call(request: Request, module: ModuleRecord) -> None:
    """The platform's rule: the caller may predict with ``module`` (NotFound if hidden)."""
    policy.check_call(await current_principal(request), module)


def catalog_model_document(record: VersionRecord, base: str) -> dict[str, Any]:
    """A catalog version's metadata in DEEPaaS's model shape, its self link first."""
    name = record.module
    metadata = dict(record.metadata)
    links = metadata.pop("links", None)
    link_map: dict[str, Any] = links if isinstance(links, dict) else {}
    doc: dict[str, Any] = {"id": name, "name": name, **metadata, "version": record.version}
    if link_map.get("source_code"):
        doc.setdefault("url", link_map["source_code"])
    doc["links"] = [
        {"rel": "self", "href": f"{base}/v2/models/{name}"},
        *({"rel": rel, "href": href} for rel, href in link_map.items() if href),
    ]
    return doc


def _catalog_documents(
    catalog: CatalogService, base: str
) -> list[tuple[ModuleRecord, dict[str, Any]]]:
    found = []
    for name in catalog.names():
        try:
            found.append((catalog.module(name), catalog.version(name, LATEST)))
        except NotFound:  # removed meanwhile, or no version yet
            continue
    return [(module, catalog_model_document(record, base)) for module, record in found]


def yank_warning(version: str, reason: str) -> bytes:
    """A ``Warning: 299`` header value saying that ``version`` is yanked and why (one line of
    printable ASCII; quotes and backslashes dropped, as a quoted-string needs)."""
    text = f"version {version} is yanked: {reason}"
    text = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else " " for c in text)
    return f'299 modelport "{" ".join(text.split())[:300]}"'.encode()


def proxied_response(result: GatewayResponse) -> Response:
    """The worker's response, plus the version and cold-start headers; a streaming model's
    answer goes on part by part (its caller leaving stops the model)."""
    response: Response
    if result.stream is not None:
        response = StreamingResponse(_relay(result.stream, result.version), result.status)
    else:
        response = Response(status_code=result.status)
        response.body = result.body
    extra = [(b"x-modelport-model-version", result.version.encode("latin-1", "replace"))]
    if result.stream is not None:
        extra.append((b"x-accel-buffering", b"no"))  # proxies pass each item on as it comes
    if result.yanked_reason is not None:  # still served by its number; say so to whoever asks
        extra.append((b"warning", yank_warning(result.version, result.yanked_reason)))
    if result.cold_start is not None:
        extra.append((b"x-modelport-cold-start", f"{result.cold_start:.3f}".encode()))
        extra.append((b"server-timing", f"cold-start;dur={result.cold_start * 1000:.1f}".encode()))
    response.raw_headers = [*result.headers, *extra]
    return response


async def _relay(parts: AnswerParts, version: str) -> AsyncIterator[bytes]:
    """A worker's answer in parts; one that breaks off (its worker died) ends here, cut short
    (its status is sent already), and is logged. Left early (the caller went away), the worker
    is told to stop."""
    try:
        async for part in parts:
            yield part
    except ModelportError as exc:
        log.error("an answer of version %s broke off: %s", version, exc.message)
    finally:
        await parts.aclose()


class GatewayEndpoints:
    """The ``{base}/v2/models/...`` endpoints for every published catalog module, one method per
    route; ``gateway_router`` lays them out. ``authorize`` (if any) checks each caller."""

    def __init__(
        self,
        pool: ModelServer,
        catalog: CatalogService,
        settings: Settings,
        authorize: Authorize | None = None,
        *,
        rollouts: RolloutRouter | None = None,
        pipelines: PipelineCalls | None = None,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.base = settings.base_path
        self.authorize = authorize
        #: picks the version of an alias under a rollout (modelport.rollouts), if any
        self.rollouts = rollouts
        #: answers the modules that are pipelines (modelport.pipelines), if any
        self.pipelines = pipelines

    async def list_models(self, request: Request) -> dict[str, Any]:
        docs = await asyncio.to_thread(_catalog_documents, self.catalog, self.base)
        visible = []
        for module, doc in docs:
            if self.authorize is not None:
                try:
                    await self.authorize(request, module)
                except (Forbidden, NotFound):  # listed only to those who may use it
                    continue
            visible.append(doc)
        return {"models": visible}

    async def get_model(self, request: Request, name: ModuleName) -> dict[str, Any]:
        await self._allowed(request, name)
        return catalog_model_document(await self.pool.resolve(name, LATEST), self.base)

    async def predict(self, request: Request, name: ModuleName) -> Response:
        return await self._proxy(request, name, LATEST, f"{self.base}/v2/models/{name}/predict/")

    async def predict_version(
        self, request: Request, name: ModuleName, ref: VersionRef
    ) -> Response:
        return await self._proxy(request, name, ref, f"{self.base}/v2/models/{name}/predict/")

    async def version_metadata(
        self, request: Request, name: ModuleName, ref: VersionRef
    ) -> Response:
        return await self._document(request, name, ref, f"{self.base}/v2/models/{name}/")

    async def module_openapi(self, request: Request, name: ModuleName) -> Response:
        return await self._document(request, name, LATEST, f"{self.base}/openapi.json")

    async def version_openapi(
        self, request: Request, name: ModuleName, ref: VersionRef
    ) -> Response:
        return await self._document(request, name, ref, f"{self.base}/openapi.json")

    async def _allowed(self, request: Request, name: str) -> ModuleRecord:
        module = await self.pool.records.module(name)
        if self.authorize is not None:
            await self.authorize(request, module)
        return module

    async def _proxy(self, request: Request, name: str, ref: str, path: str) -> Response:
        await self._allowed(request, name)
        if self.pipelines is not None and await self.pipelines.is_pipeline(name):
            if not path.endswith("/predict/"):
                raise NotFound(f"'{name}' is a pipeline: POST .../predict/ calls it")
            return await self.pipelines.predict(request, await self.pool.resolve(name, ref))
        scope = {**request.scope, "path": path, "raw_path": path.encode(), "root_path": ""}
        if self.rollouts is not None:  # an alias under a rollout: the version it picks
            routed = await self.rollouts.call(name, ref, scope, _body(request.receive))
            response = proxied_response(routed.response)
            if routed.after is not None:  # the shadow's copy, once the answer is sent
                response.background = BackgroundTask(routed.after)
            return response
        return proxied_response(await self.pool.call(name, ref, scope, _body(request.receive)))

    async def _document(self, request: Request, name: str, ref: str, path: str) -> Response:
        """A module's own document (metadata, OpenAPI), re-serialised: JSON, never its bytes."""
        await self._allowed(request, name)
        if self.pipelines is not None and await self.pipelines.is_pipeline(name):
            record = await self.pool.resolve(name, ref)
            if path.endswith("/openapi.json"):
                return JSONResponse(self.pipelines.openapi(record, self.base))
            return JSONResponse(catalog_model_document(record, self.base))
        scope = {**request.scope, "path": path, "raw_path": path.encode(), "root_path": ""}
        result = await self.pool.call(name, ref, scope, request.stream())
        if result.status == 404:
            raise NotFound(f"model '{name}' has no such document")
        doc = module_document(result.status, result.body, name)
        response = JSONResponse(doc, headers={"x-modelport-model-version": result.version})
        response.headers.update({k.decode(): v.decode() for k, v in MODEL_RESPONSE_POLICY})
        return response


def gateway_router(
    pool: ModelServer,
    catalog: CatalogService,
    settings: Settings,
    authorize: Authorize | None = None,
    *,
    rollouts: RolloutRouter | None = None,
    pipelines: PipelineCalls | None = None,
) -> APIRouter:
    """The ``{base}/v2/models/...`` routes for every published catalog module, in matching
    order."""
    router = APIRouter()
    endpoints = GatewayEndpoints(
        pool, catalog, settings, authorize, rollouts=rollouts, pipelines=pipelines
    )
    models = f"{settings.base_path}/v2/models"
    common: dict[str, Any] = {"response_model": None, "tags": ["catalog models"]}
    proxied: dict[str, Any] = {"responses": _PROXIED, **common}
    predicting: dict[str, Any] = {"openapi_extra": _PREDICT_DOC, **proxied}

    def add(path: str, endpoint: Any, method: str, summary: str, **kw: Any) -> None:
        add_paths(router, f"{models}{path}", endpoint, [method], summary=summary, **kw)

    add(
        "",
        endpoints.list_models,
        "GET",
        "Every catalog module (from the catalog; nothing is loaded)",
        responses=documented(ModelList),
        **common,
    )
    add(
        "/{name}",
        endpoints.get_model,
        "GET",
        "A catalog module's metadata, latest version (nothing is loaded)",
        responses=documented(ModelMeta, **_NOT_FOUND),
        **common,
    )
    add(
        "/{name}/predict",
        endpoints.predict,
        "POST",
        "Predict with the latest version (loaded on first use)",
        **predicting,
    )
    add(
        "/{name}/versions/{ref}/predict",
        endpoints.predict_version,
        "POST",
        "Predict with a version or alias (loaded on first use)",
        **predicting,
    )
    add(
        "/{name}/versions/{ref}",
        endpoints.version_metadata,
        "GET",
        "A version's metadata as its model reports it (loaded on first use)",
        **proxied,
    )
    add(
        "/{name}/openapi.json",
        endpoints.module_openapi,
        "GET",
        "The latest version's own OpenAPI document (loaded on first use)",
        **proxied,
    )
    add(
        "/{name}/versions/{ref}/openapi.json",
        endpoints.version_openapi,
        "GET",
        "A version's own OpenAPI document (loaded on first use)",
        **proxied,
    )
    # the Open Inference Protocol's routes (a version's metadata is the version route above)
    inference = ProxiedInference(endpoints._proxy, settings.base_path)
    add_proxied_routes(router, inference, models, settings.debug)
    return router


class PredictFastPath:
    """Predictions to catalog modules, answered below the router (the platform's hot path).

    The documented FastAPI routes stay for OpenAPI and every other method; a ``POST`` to
    ``{base}/v2/models/{name}[/versions/{ref}]/predict[/]`` is matched here by one regular
    expression and answered by the same endpoint as the documented route
    (:meth:`GatewayEndpoints.predict_version`: same authorization, same forwarding, same
    errors), skipping route matching over the platform's ~100 routes and dependency resolution
    — the gateway's own cost per prediction is what separates ``up`` from ``serve``.
    """

    def __init__(
        self,
        app: ASGIApp,
        pool: ModelServer,
        settings: Settings,
        authorize: Authorize | None = None,
        *,
        rollouts: RolloutRouter | None = None,
        pipelines: PipelineCalls | None = None,
    ) -> None:
        self.app = app
        self.endpoints = GatewayEndpoints(
            pool, pool.catalog, settings, authorize, rollouts=rollouts, pipelines=pipelines
        )
        self.debug = settings.debug
        self.pattern = re.compile(
            rf"{re.escape(settings.base_path)}/v2/models/(?P<name>[^/]+)"
            r"(?:/versions/(?P<ref>[^/]+))?/predict/?"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a catalog prediction, or pass anything else on."""
        match = None
        if scope["type"] == "http" and scope["method"] == "POST":
            match = self.pattern.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            answer = await self.endpoints.predict_version(
                request, match["name"], match["ref"] or LATEST
            )
        except ModelportError as exc:
            answer = error_response(exc, self.debug, f"POST {scope['path']}")
        await answer(scope, receive, send)


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """A request's body chunks, as the ASGI server delivers them."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client disconnected before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
