"""Collect a predict call's raw arguments from the query string, form, multipart or JSON body."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request

from modelport.api.uploads import UploadArea, check_declared_size, read_body, read_multipart
from modelport.contract.base import RawArgs
from modelport.errors import BadRequest, UnsupportedMediaType

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def _json_object(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise BadRequest(f"Invalid JSON body ({where}).", field="json") from None
    except UnicodeDecodeError:
        raise BadRequest("Invalid JSON body (not UTF-8).", field="json") from None
    if not isinstance(value, dict):
        raise BadRequest("the JSON body must be an object mapping argument names to values")
    return value


async def read_arguments(request: Request, area: UploadArea, limit: int) -> RawArgs:
    """Every argument the request carries; later sources (the body) override the query string."""
    raw = RawArgs(accept=request.headers.get("accept"))
    for key, value in request.query_params.multi_items():
        raw.add_query(key, value)
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    area.size_hint = check_declared_size(request, limit)
    if media == _MULTIPART:
        await read_multipart(request, raw, area, limit, content_type)
        return raw
    body = await read_body(request, limit)
    if not body.strip():
        return raw
    if media == "application/json" or media.endswith("+json"):
        raw.json = _json_object(body)
    elif media in (_FORM, ""):
        if body.lstrip().startswith(b"{"):  # `curl -d '{"x": 1}'` sends JSON as a form
            raw.json = _json_object(body)
        else:
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                raw.add(key, value)
    else:
        raise UnsupportedMediaType(
            f"cannot read a {media} body; send JSON, a form, multipart/form-data or a query string"
        )
    return raw
