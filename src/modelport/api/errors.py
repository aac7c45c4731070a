"""Map modelport's exception tree to HTTP status codes and JSON bodies, once, at the edge.

Every error body is JSON. Validation errors keep DEEPaaS's shape ``{"field": ["message"]}``
(nested for a legacy module's nested fields), as does an unreadable JSON body (``{"json": [...]}``);
all others are ``{"message": "..."}`` (DEEPaaS's declared ``Failure`` shape), plus a
``traceback`` only when the server runs with ``--debug``.

A server error (5xx) never shows a server path. A 500 (the model's code raised, or ours did)
says only what failed, with an ``error_id``: ``{"message": "the model failed: ValueError (error
id 1f2e3d4c5b6a)", "error_id": "1f2e3d4c5b6a"}``; the server's log has one ERROR record with
that id, the whole message and the traceback. A caller's mistake (4xx) logs no error.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from modelport import errors
from modelport.errors import new_error_id

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ModelportError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NotImplementedByModel: 501,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.QuotaExceeded: 429,
    errors.StoreError: 503,
    errors.ExecutorError: 503,
    errors.InvalidInput: 422,
    errors.BadRequest: 400,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.Overloaded: 503,
    errors.ModelNotReady: 503,
    errors.PredictTimeout: 504,
    errors.ModelError: 500,
    errors.ModelLoadError: 500,
}


def status_of(exc: errors.ModelportError) -> int:
    """The HTTP status of a modelport error."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    exc: errors.ModelportError, debug: bool = False, request: str | None = None
) -> Response:
    """The JSON response for a modelport error (``request``: what failed, for the log)."""
    status = status_of(exc)
    if isinstance(exc, errors.InvalidInput):
        return JSONResponse(exc.detail if exc.detail is not None else exc.errors, status)
    if isinstance(exc, errors.BadRequest) and exc.field is not None:
        return JSONResponse({exc.field: [exc.message]}, status)
    body: dict[str, Any] = {"message": exc.message}
    headers: dict[str, str] = {}
    if isinstance(exc, errors.Overloaded):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="modelport"'
    if status >= 500:
        body["message"] = errors.redact_paths(exc.message)
    if status == 500:
        error_id = new_error_id()
        detail = exc.detail if isinstance(exc, errors.ModelError) else None
        on = f" on {request}" if request else ""
        log.error("error %s%s: %s%s", error_id, on, exc.message, f"\n{detail}" if detail else "")
        body["message"] = f"{public_message(exc)} (error id {error_id})"
        body["error_id"] = error_id
        if debug and detail:
            body["traceback"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def public_message(exc: errors.ModelportError) -> str:
    """What a client may read of a server error: the type of what the model's code raised, or
    our own message without server paths."""
    error_type = getattr(exc, "error_type", None)  # ModelError's; old pickles lack it
    if isinstance(exc, errors.ModelError) and error_type:
        return f"the model failed: {error_type}"
    return errors.redact_paths(exc.message)


def install_error_handlers(app: FastAPI, debug: bool) -> None:
    """Register the handlers that turn every error into a JSON response."""

    async def on_modelport_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ModelportError)
        return error_response(exc, debug, f"{request.method} {request.url.path}")

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        if exc.status_code == 404:
            message = f"no such path: {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path}"
        return JSONResponse({"message": message}, exc.status_code, headers=exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields: dict[str, list[str]] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
            fields.setdefault(".".join(loc) or "_schema", []).append(str(err.get("msg")))
        return JSONResponse(fields, 422)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        error_id = new_error_id()
        log.exception("error %s on %s %s: unexpected", error_id, request.method, request.url.path)
        body: dict[str, Any] = {
            "message": f"internal server error (error id {error_id})",
            "error_id": error_id,
        }
        if debug:
            body["traceback"] = f"{type(exc).__name__}: {exc}"
        # the server drops the connection after an unhandled error: say so, as DEEPaaS's 500s do,
        # so that a keep-alive client opens a new one instead of failing on the next request
        return JSONResponse(body, 500, headers={"Connection": "close"})

    app.add_exception_handler(errors.ModelportError, on_modelport_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
