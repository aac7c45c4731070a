"""A legacy module's arguments read as DEEPaaS 2.6 reads them (webargs 5 over aiohttp).

- Where a value comes from: the field's ``location`` (metadata, or a marshmallow-2 keyword):
  ``headers``, ``query``/``querystring``, ``form``/``files`` (form fields and uploads) or
  ``json``; without one, the query string, then the form or multipart body, then a JSON body:
  the first that has the argument wins.
- A header-located argument is read from the request's headers; only ``Accept`` ever reaches
  module code (callers' other headers, credentials among them, never do).
- A ``List`` field takes every value of a repeated key (a lone JSON value as a list of one),
  any other field the first.
- Predict's ``accept`` argument: DEEPaaS appends ``*/*`` to its ``OneOf`` choices (after the
  error message was written, which therefore omits it) and makes the first choice its default.
- Errors keep marshmallow's nested shape, list positions as string keys:
  ``{"payload": {"a": [...]}, "numbers": {"1": [...]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelport.contract.base import ANY_MEDIA_TYPE, RawArgs, is_blank
from modelport.contract.marshmallow_schema import choices_of, field_metadata, is_file_field
from modelport.errors import InvalidInput

ACCEPT = "accept"
_BODY = ("form", "files")
_QUERY = ("query", "querystring")


def location_of(field: Any) -> str | None:
    """The location a field declares (``headers``, ``query``, ``form``, ``json``...), if any."""
    location = field_metadata(field).get("location")
    return str(location).lower() if location else None


def adopt_accept(field: Any) -> tuple[str, ...]:
    """Prepare predict's ``accept`` field as DEEPaaS does; return the media types it takes.

    The module's own ``OneOf`` gets ``*/*`` appended (DEEPaaS mutates it the same way, and
    modules that share the list with other fields rely on it) and the first choice becomes the
    default. A field without a mutable ``OneOf`` is left alone.
    """
    choices = list(choices_of(field) or [])
    validator = getattr(field, "validate", None)
    listed = getattr(validator, "choices", None)
    if isinstance(listed, list):
        if ANY_MEDIA_TYPE not in listed:
            listed.append(ANY_MEDIA_TYPE)
        field.load_default = listed[0]
        choices = list(listed)
    elif choices and ANY_MEDIA_TYPE not in choices:
        choices.append(ANY_MEDIA_TYPE)
    return tuple(str(choice) for choice in choices)


def collect(fields: Mapping[str, Any], raw: RawArgs) -> dict[str, Any]:
    """Each declared argument's raw value, picked from the request as webargs 5 picks it."""
    data: dict[str, Any] = {}
    for name, field in fields.items():
        key = getattr(field, "data_key", None) or name
        found = _value(field, key, raw)
        if found is not _MISSING:
            data[key] = found
    return data


_MISSING = object()


def _value(field: Any, key: str, raw: RawArgs) -> Any:
    location = location_of(field)
    if location == "headers":
        return raw.accept if key == ACCEPT and raw.accept is not None else _MISSING
    sources: list[str] = []
    if location is None or location in _QUERY:
        sources.append("query")
    if location is None or location in _BODY:
        sources.append("form")
    if location is None or location == "json":
        sources.append("json")
    for source in sources:
        if source == "json":
            if key in raw.json:
                value = raw.json[key]
                # webargs 5 hands a List field's lone value over as a list of one (a string too)
                return [value] if _is_multiple(field) and not isinstance(value, list) else value
            continue
        values = raw.query.get(key, []) if source == "query" else raw.form(key)
        if not _keeps_blanks(field):
            values = [v for v in values if not is_blank(v)]
        if values:
            return list(values) if _is_multiple(field) else values[0]
    return _MISSING


def _is_multiple(field: Any) -> bool:
    names = {cls.__name__ for cls in type(field).__mro__}
    return "List" in names and not hasattr(field, "delimiter")


def _keeps_blanks(field: Any) -> bool:
    # An empty text box is an empty string; an empty number or file input means "not given".
    names = {cls.__name__ for cls in type(field).__mro__}
    return bool(names & {"String", "Str"}) and not is_file_field(field)


def invalid(messages: Any) -> InvalidInput:
    """marshmallow's error messages as InvalidInput: flat for humans, nested for the wire."""
    nested = _stringify(messages if isinstance(messages, Mapping) else {"_schema": messages})
    flat: dict[str, list[str]] = {}
    _flatten(nested, "", flat)
    return InvalidInput(flat, detail=nested)


def _stringify(messages: Any) -> Any:
    if isinstance(messages, Mapping):
        return {str(key): _stringify(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_stringify(value) for value in messages]
    return str(messages)


def _flatten(node: Any, prefix: str, out: dict[str, list[str]]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(node, list):
        for item in node:
            _flatten(item, prefix, out)
    else:
        out.setdefault(prefix or "_schema", []).append(str(node))
