"""The pipeline routes: check, try and publish a pipeline document, read a step's interface;
and the answer of a published pipeline's ``POST /v2/models/{pipeline}/predict/``.

- ``POST {base}/pipelines/check``: the document (JSON, or YAML as ``application/yaml`` /
  ``text/plain``) → what it takes and answers, or 422 naming every problem by where it is
  (``steps[1].inputs.image``);
- ``POST {base}/pipelines/try``: run a document without publishing it: multipart/form-data with
  a ``document`` field and the inputs as the other fields and files, or JSON
  ``{"document": ..., "inputs": {...}}``;
- ``POST {base}/pipelines``: check and publish it as a catalog version (201, the version);
- ``GET {base}/pipelines/interfaces/{module}?ref=``: a module version's inputs and output, for
  composing.

A pipeline's answer is JSON (files in it as base64), or the file itself when its output is one
reference to a file. ``Server-Timing`` names each step's time (``<step>;dur=<ms>;desc="<module>
<version>"``) and the whole pipeline's; a failed step answers ``{"message", "step", "item",
"module", "version", "step_status", "detail"}`` (see ``pipelines.engine.StepFailed``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from modelport.api.auth import CurrentPrincipal, current_principal
from modelport.catalog.domain import VersionRecord
from modelport.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from modelport.gateway.exposure import MODEL_RESPONSE_POLICY
from modelport.pipelines.engine import FileValue, Result, StepFailed, to_json
from modelport.pipelines.openapi import pipeline_openapi
from modelport.pipelines.service import Checked, PipelineService
from modelport.settings import Settings

#: The largest pipeline document taken.
MAX_DOCUMENT = 256 * 1024
_YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _limited_body(request: Request, limit: int) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(limit)
    return body


async def read_inputs(request: Request, limit: int) -> dict[str, Any]:
    """A caller's arguments: the query string, then a JSON object or a form's fields and files
    (files as ``FileValue``)."""
    inputs: dict[str, Any] = dict(request.query_params)
    media = _media(request)
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        length = int(request.headers.get("content-length") or 0)
        if length > limit:
            raise PayloadTooLarge(limit)
        form = await request.form(max_files=64, max_fields=1000, max_part_size=limit)
        try:
            for name in form:
                values = form.getlist(name)
                kept = [await _value(v) for v in values]
                inputs[name] = kept[0] if len(kept) == 1 else kept
        finally:
            await form.close()
        return inputs
    body = await _limited_body(request, limit)
    if not body.strip():
        return inputs
    if media not in ("application/json", ""):
        raise UnsupportedMediaType(f"send JSON or multipart/form-data, not {media}")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON (or nested too deeply)", field="json") from None
    if not isinstance(parsed, dict):
        raise BadRequest("send the arguments as a JSON object", field="json")
    inputs.update(parsed)
    return inputs


async def _value(value: str | UploadFile) -> Any:
    if isinstance(value, str):
        return value
    data = await value.read()
    return FileValue(data, value.filename or "upload", value.content_type or "")


def server_timing(result: Result) -> str:
    """The steps' times as a ``Server-Timing`` value."""
    parts = []
    for timing in result.timings:
        desc = ", ".join(sorted(timing.versions)).replace('"', "")
        parts.append(f'{timing.step};dur={timing.seconds * 1000:.2f};desc="{desc}"')
    parts.append(f"pipeline;dur={result.seconds * 1000:.2f}")
    return ", ".join(parts)


def render(result: Result, version: str | None) -> Response:
    """A pipeline's answer: the file it gives, or JSON."""
    output = result.output
    if isinstance(output, FileValue):
        response = Response(output.data, media_type=output.media_type)
    else:
        response = Response(to_json(output), media_type="application/json")
    response.headers["server-timing"] = server_timing(result)
    if version is not None:
        response.headers["x-modelport-model-version"] = version
    for key, value in MODEL_RESPONSE_POLICY:
        response.headers[key.decode()] = value.decode()
    return response


def failed(exc: StepFailed) -> Response:
    """A failed step's answer."""
    return JSONResponse(exc.body(), exc.status)


class PipelineCalls:
    """Answers ``POST /v2/models/{pipeline}/predict/`` (the gateway hands pipelines here)."""

    def __init__(self, service: PipelineService, settings: Settings) -> None:
        self.service = service
        self.limit = settings.max_upload_size

    async def is_pipeline(self, name: str) -> bool:
        """Whether a module is a pipeline (as of the request's catalog check)."""
        return await self.service.is_pipeline(name)

    def openapi(self, record: VersionRecord, base: str) -> dict[str, Any]:
        """The pipeline version's own OpenAPI document."""
        derived = self.service.checked(record).derived
        meta = record.metadata
        title, summary = str(meta.get("title", record.module)), str(meta.get("summary", ""))
        return pipeline_openapi(
            record.module, record.version, derived, title=title, summary=summary, base=base
        )

    async def predict(self, request: Request, record: VersionRecord) -> Response:
        """Run the published pipeline ``record`` on the caller's arguments."""
        principal = await current_principal(request)
        inputs = await read_inputs(request, self.limit)
        checked = self.service.checked(record)
        try:
            result = await self.service.run(
                record.module, checked, inputs, self.service.may_call(principal)
            )
        except StepFailed as exc:
            return failed(exc)
        return render(result, record.version)


class PipelineEndpoints:
    """One method per pipeline route; :func:`pipelines_router` lays them out."""

    def __init__(self, service: PipelineService, settings: Settings) -> None:
        self.service = service
        self.limit = settings.max_upload_size

    async def _document(self, request: Request) -> str | bytes | dict[str, Any]:
        body = await _limited_body(request, MAX_DOCUMENT)
        media = _media(request)
        if media in _YAML:
            return body
        if media not in ("application/json", ""):
            raise UnsupportedMediaType(f"send the document as JSON or YAML, not {media}")
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            raise BadRequest(
                "the body is not JSON (or nested too deeply)", field="document"
            ) from None
        if not isinstance(parsed, dict):
            raise InvalidInput({"document": ["a pipeline document is a mapping"]})
        return parsed

    async def check(self, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
        checked = await self.service.check(
            await self._document(request), self.service.may_call(principal)
        )
        return _described(checked)

    async def publish(self, request: Request, principal: CurrentPrincipal) -> VersionRecord:
        document = await self._document(request)
        return await self.service.publish(document, principal, self.service.may_call(principal))

    async def try_pipeline(self, request: Request, principal: CurrentPrincipal) -> Response:
        inputs = await read_inputs(request, self.limit)
        document = inputs.pop("document", None)
        if isinstance(document, FileValue):
            document = document.data
        if document is None or not isinstance(document, str | bytes | dict):
            raise InvalidInput({"document": ["give the pipeline document to try"]})
        nested = inputs.pop("inputs", None)
        if isinstance(nested, dict):
            inputs.update(nested)
        may_call = self.service.may_call(principal)
        checked = await self.service.check(document, may_call)
        try:
            result = await self.service.run(checked.document.name, checked, inputs, may_call)
        except StepFailed as exc:
            return failed(exc)
        return render(result, None)

    async def interface(
        self,
        name: str,
        principal: CurrentPrincipal,
        ref: str = Query("latest", description="a version or an alias"),
    ) -> dict[str, Any]:
        found = await self.service.interface(name, ref, self.service.may_call(principal))
        return found.as_json()


def _described(checked: Checked) -> dict[str, Any]:
    return {
        "document": checked.document.model_dump(mode="json", exclude_none=True),
        "inputs": checked.derived.inputs,
        "output": checked.derived.output,
        "takes_files": checked.derived.takes_files,
        "checked_against": checked.resolved,
    }


def pipelines_router(service: PipelineService, settings: Settings) -> APIRouter:
    """The ``{base}/pipelines`` routes."""
    router = APIRouter(prefix=f"{settings.base_path}/pipelines", tags=["pipelines"])
    api = PipelineEndpoints(service, settings)
    body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    }
    router.add_api_route(
        "/check",
        api.check,
        methods=["POST"],
        openapi_extra=body,
        summary="Check a pipeline document against its steps; what it takes and answers",
    )
    router.add_api_route(
        "/try",
        api.try_pipeline,
        methods=["POST"],
        response_model=None,
        summary="Run a pipeline document without publishing it (document + inputs)",
    )
    router.add_api_route(
        "",
        api.publish,
        methods=["POST"],
        status_code=201,
        openapi_extra=body,
        summary="Check and publish a pipeline as a catalog module version",
    )
    router.add_api_route(
        "/interfaces/{name}",
        api.interface,
        methods=["GET"],
        summary="A module version's predict inputs and output (for composing pipelines)",
    )
    return router
