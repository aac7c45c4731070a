"""Collect a predict call's raw arguments from the query string, form, multipart or JSON body.

Within the server's limits (settings ``max_fields``, ``max_field_size``, ``max_json_depth``,
``max_upload_size``): too many query parameters, form fields or parts, a field too large, or
JSON nested too deep answer 400 naming the limit, before the model sees anything. Large bodies
are parsed (JSON, urlencoded) in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar
from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request

from modelport.api.uploads import (
    MAX_FIELD_SIZE,
    MAX_PARTS,
    UploadArea,
    check_declared_size,
    field_too_large,
    read_body,
    read_multipart,
)
from modelport.contract.base import RawArgs
from modelport.errors import BadRequest, InvalidInput, UnsupportedMediaType
from modelport.settings import Settings

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
T = TypeVar("T")
#: Bodies larger than this are parsed in a worker thread (a thread hop costs ~0.1 ms).
OFF_LOOP_BYTES = 128 * 1024


@dataclass(frozen=True)
class ArgumentLimits:
    """How many arguments a request may carry, how large a field, how deep its JSON."""

    fields: int = MAX_PARTS
    field_size: int = MAX_FIELD_SIZE
    json_depth: int = 64

    @classmethod
    def of(cls, request: Request) -> ArgumentLimits:
        """The limits of the app serving ``request`` (its settings), else the defaults."""
        app = request.scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        if not isinstance(settings, Settings):
            return _DEFAULT_LIMITS
        return cls(settings.max_fields, settings.max_field_size, settings.max_json_depth)


_DEFAULT_LIMITS = ArgumentLimits()


def _too_deep(depth: int) -> InvalidInput:
    """Readable JSON, but nested too deep to be arguments: a 422 naming ``json``."""
    return InvalidInput({"json": [f"Nested deeper than {depth} levels (max_json_depth)."]})


def _deeper_than(value: object, depth: int) -> bool:
    """Whether arrays and objects nest more than ``depth`` levels in ``value`` (iteratively)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        if isinstance(children, Iterable):
            stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return False


def _json_object(body: bytes, depth: int) -> dict[str, object]:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise BadRequest(f"Invalid JSON body ({where}).", field="json") from None
    except UnicodeDecodeError:
        raise BadRequest("Invalid JSON body (not UTF-8).", field="json") from None
    except RecursionError:  # the decoder's own guard, far deeper than any sane limit
        raise _too_deep(depth) from None
    if not isinstance(value, dict):
        raise BadRequest("the JSON body must be an object mapping argument names to values")
    # cheap first: fewer openers than the limit cannot nest deeper than it
    if body.count(b"[") + body.count(b"{") > depth and _deeper_than(value, depth):
        raise _too_deep(depth)
    return value


def _form_fields(body: bytes, limits: ArgumentLimits) -> list[tuple[str, str]]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=limits.fields
        )
    except ValueError:  # parse_qsl counts the separators before parsing anything
        raise BadRequest(f"too many form fields: more than {limits.fields} (max_fields)") from None
    for key, value in pairs:
        if len(key) > limits.field_size:
            raise BadRequest(f"a form field's name is {field_too_large(limits.field_size)}")
        if len(value) > limits.field_size // 4 and len(value.encode()) > limits.field_size:
            raise BadRequest(field_too_large(limits.field_size), field=key)
    return pairs


async def _parse(parse: partial[T], size: int) -> T:
    """Run a parser inline for a small body, in a worker thread for a large one."""
    if size <= OFF_LOOP_BYTES:
        return parse()
    return await anyio.to_thread.run_sync(parse)


async def read_arguments(request: Request, area: UploadArea, limit: int) -> RawArgs:
    """Every argument the request carries; later sources (the body) override the query string."""
    limits = ArgumentLimits.of(request)
    raw = RawArgs(accept=request.headers.get("accept"))
    query = request.query_params.multi_items()
    if len(query) > limits.fields:
        raise BadRequest(f"too many query parameters: more than {limits.fields} (max_fields)")
    for key, value in query:
        raw.add_query(key, value)
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    area.size_hint = check_declared_size(request, limit)
    if media == _MULTIPART:
        await read_multipart(
            request,
            raw,
            area,
            limit,
            content_type,
            max_parts=limits.fields,
            max_field_size=limits.field_size,
        )
        return raw
    body = await read_body(request, limit)
    if not body.strip():
        return raw
    if media == "application/json" or media.endswith("+json"):
        raw.json = await _parse(partial(_json_object, body, limits.json_depth), len(body))
    elif media in (_FORM, ""):
        if body.lstrip().startswith(b"{"):  # `curl -d '{"x": 1}'` sends JSON as a form
            raw.json = await _parse(partial(_json_object, body, limits.json_depth), len(body))
        else:
            for key, value in await _parse(partial(_form_fields, body, limits), len(body)):
                raw.add(key, value)
    else:
        raise UnsupportedMediaType(
            f"cannot read a {media} body; send JSON, a form, multipart/form-data or a query string"
        )
    return raw
