"""What the client sends and writes: arguments as JSON or form fields, uploads, downloads."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import IO, Any, Final

import httpx

#: A file to upload: its bytes, a path, or ``(filename, bytes, media_type)``.
FileValue = Path | bytes | tuple[str, bytes, str]

_CHUNK: Final = 1 << 16


def jsonable(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as a JSON body: enums by value, ``None`` left out."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in args.items() if v is not None}


def param(value: Any) -> Any:
    """A query or form value: a list stays a list (its field repeats), the rest a string."""
    if isinstance(value, list | tuple | set):
        return [_form_value(v) for v in value]
    return _form_value(value)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def form(args: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Arguments as form fields: lists repeat their field, booleans are ``true``/``false``."""
    fields: dict[str, str | list[str]] = {}
    for key, value in args.items():
        if value is not None:
            fields[key] = param(value)
    return fields


def upload(field: str, value: FileValue, stack: ExitStack) -> tuple[str, IO[bytes] | bytes, str]:
    """A multipart file part ``(filename, content, media_type)``; opened files join ``stack``."""
    if isinstance(value, Path):
        media_type = mimetypes.guess_type(value.name)[0] or "application/octet-stream"
        return value.name, stack.enter_context(value.open("rb")), media_type
    if isinstance(value, bytes):
        return field, value, "application/octet-stream"
    return value


def write_response(
    response: httpx.Response, target: Path, *, sha256: str | None = None, size: int | None = None
) -> None:
    """Stream a response body to ``target`` via a partial file; nothing is left on failure."""
    # Imported here: the storage package loads fsspec, which an SDK user rarely needs.
    from modelport.storage.verified import write_verified

    write_verified(response.iter_bytes(_CHUNK), target, sha256=sha256, size=size)
