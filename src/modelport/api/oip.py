"""The Open Inference Protocol v2 (KServe v2, Triton HTTP/REST) beside the DEEPaaS v2 routes.

``tritonclient.http`` and KServe's ``InferenceRESTClient`` work unchanged against these routes:
health (``/v2/health/live``, ``/v2/health/ready``), a model's readiness and metadata, and
``POST /v2/models/{name}[/versions/{version}]/infer`` (JSON or ``binary_data`` tensors, see
``contract/tensors.py``). Inference goes through the model's runner, as predict does: the same
validation (the model's own ``prepare``), limits, deadlines and metrics.

Two documents share their path with DEEPaaS. ``GET /v2`` stays DEEPaaS's version document,
unchanged: DEEPaaS clients and the compatibility suite need it byte for byte, and its
``version`` ("stable", the API's status) is not OIP's (the server's version), so OIP's server
metadata is not merged into it. ``GET /v2/models/{name}`` is ONE document for both protocols:
a typed model's DEEPaaS metadata plus OIP's ``name``, ``versions``, ``platform``, ``inputs`` and
``outputs`` (no DEEPaaS key means anything else; clients of either protocol ignore the other's
keys, KServe's pydantic models included). A legacy DEEPaaS module's document stays exactly
DEEPaaS's (the compatibility suite compares it with DEEPaaS 2.6.0 itself); its OIP metadata,
like every model's, is at ``/v2/models/{name}/versions/{version}``. Legacy modules infer too,
their arguments read from their declared fields (files have no tensor form).

Every error answer keeps modelport's JSON and adds ``error``, the one key OIP clients read
(``tritonclient`` raises ``InferenceServerException`` with it, KServe's client puts it in its
``HTTPStatusError``). The routes are left out of the OpenAPI document, which describes DEEPaaS's
API; the OIP's own specification describes them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from modelport.api.errors import error_response
from modelport.api.models import model_document, recorded
from modelport.contract import tensors
from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput, ModelportError, NotFound, PayloadTooLarge
from modelport.runtime import ModelRunner, ModelRuntime
from modelport.settings import Settings

#: the length of the JSON header before binary tensors (the gateway forwards it both ways)
HEADER_LENGTH = "Inference-Header-Content-Length"
Endpoint = Callable[..., Awaitable[Response]]


def error_message(exc: ModelportError, body: dict[str, Any]) -> str:
    """One line saying what went wrong (each bad input named, for InvalidInput)."""
    if isinstance(exc, InvalidInput):
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
    return str(body.get("message", exc.message))


def oip_error(exc: ModelportError, debug: bool = False, request: str | None = None) -> Response:
    """modelport's error answer for ``exc``, with OIP's ``error`` key added."""
    response = error_response(exc, debug, request)
    body = json.loads(bytes(response.body))
    if isinstance(body, dict) and "error" not in body:
        body["error"] = error_message(exc, body)
    kept = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    }
    return JSONResponse(body, response.status_code, headers=kept)


def answering_errors(endpoint: Endpoint, debug: bool) -> Endpoint:
    """``endpoint``, its modelport errors answered in OIP's shape."""

    @functools.wraps(endpoint)
    async def answer(request: Request, **params: Any) -> Response:
        try:
            return await endpoint(request, **params)
        except ModelportError as exc:
            return oip_error(exc, debug, f"{request.method} {request.url.path}")

    return answer


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body; PayloadTooLarge past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class ServedInference:
    """The OIP endpoints for the models ``modelport serve`` runs (one version each)."""

    def __init__(self, runtime: ModelRuntime, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def live(self, request: Request) -> Response:
        """The server is up."""
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        """Every model is warm (503 before)."""
        ready = self.runtime.ready
        return JSONResponse({"ready": ready}, 200 if ready else 503)

    async def model_ready(self, request: Request, name: str) -> Response:
        """One model is warm (503 before)."""
        ready = self.runtime.get(name).ready
        return JSONResponse({"name": name, "ready": ready}, 200 if ready else 503)

    async def version_ready(self, request: Request, name: str, version: str) -> Response:
        """One model's version is warm."""
        self._version(name, version)
        return await self.model_ready(request, name)

    async def version_metadata(self, request: Request, name: str, version: str) -> Response:
        """The merged DEEPaaS and OIP document of a model's version (legacy modules' too)."""
        runner = self._version(name, version)
        doc = model_document(runner, self.settings.base_path)
        return JSONResponse({**doc, **tensors.model_metadata(runner.model)})

    async def infer(self, request: Request, name: str) -> Response:
        """Run the model on the request's input tensors; answer its output tensor."""
        return await self._infer(request, self.runtime.get(name))

    async def infer_version(self, request: Request, name: str, version: str) -> Response:
        """``infer``, for the model's one version."""
        return await self._infer(request, self._version(name, version))

    def _version(self, name: str, version: str) -> ModelRunner:
        runner = self.runtime.get(name)
        declared = runner.model.metadata().get("version")
        if declared and str(declared) != version:
            raise NotFound(f"model '{name}' has no version '{version}' (served: {declared})")
        return runner

    async def _infer(self, request: Request, runner: ModelRunner) -> Response:
        with recorded(self.runtime.metrics, runner.name, "infer"):
            body = await read_body(request, self.settings.max_upload_size)
            length = request.headers.get(HEADER_LENGTH)
            parsed = tensors.parse_request(body, length)
            model = runner.model
            arguments = tensors.to_arguments(parsed, tensors.input_specs(model.predict_signature))
            kwargs = runner.prepare(RawArgs(json=arguments))
            prediction = await runner.predict(kwargs)
            version = str(model.metadata().get("version") or "")
            content, header = tensors.encode_response(
                prediction, tensors.output_of(model), parsed, runner.name, version
            )
        if header is None:
            return Response(content, media_type="application/json")
        headers = {HEADER_LENGTH: str(header)}
        return Response(content, media_type="application/octet-stream", headers=headers)


def health_router(runtime: ModelRuntime, settings: Settings) -> APIRouter:
    """``/v2/health/live`` and ``/v2/health/ready`` (on ``serve`` and on the platform)."""
    router = APIRouter()
    endpoints = ServedInference(runtime, settings)
    base = f"{settings.base_path}/v2/health"
    router.add_api_route(f"{base}/live", endpoints.live, methods=["GET"], include_in_schema=False)
    router.add_api_route(f"{base}/ready", endpoints.ready, methods=["GET"], include_in_schema=False)
    return router


def oip_router(runtime: ModelRuntime, settings: Settings) -> APIRouter:
    """The OIP model routes for ``runtime``'s models (health apart: ``health_router``)."""
    router = APIRouter()
    endpoints = ServedInference(runtime, settings)
    models = f"{settings.base_path}/v2/models"
    routes: list[tuple[str, Endpoint, str]] = [
        ("/{name}/ready", endpoints.model_ready, "GET"),
        ("/{name}/versions/{version}", endpoints.version_metadata, "GET"),
        ("/{name}/versions/{version}/ready", endpoints.version_ready, "GET"),
        ("/{name}/infer", endpoints.infer, "POST"),
        ("/{name}/versions/{version}/infer", endpoints.infer_version, "POST"),
    ]
    add_routes(router, models, routes, settings.debug)
    return router


def add_routes(
    router: APIRouter, prefix: str, routes: list[tuple[str, Endpoint, str]], debug: bool
) -> None:
    """``(path, endpoint, method)`` routes under ``prefix``, answering errors as OIP clients
    read them, left out of the OpenAPI document (which describes DEEPaaS's API)."""
    for path, endpoint, method in routes:
        router.add_api_route(
            f"{prefix}{path}",
            answering_errors(endpoint, debug),
            methods=[method],
            include_in_schema=False,
        )
