"""Example arguments for a model, generated from its argument schema (for smoke tests).

Each argument gets, in this order: the first of its ``examples``; nothing when it has a default
(the model's own default is used), except that a training's integer arguments with a lower bound
take that bound (one epoch, the smallest batch: a training step, not a training); the first
``enum`` value or the ``const``; a value within its bounds for numbers; a string of the declared
format and length; one item for arrays. Required file uploads get a tiny generated PNG.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from modelport.contract.base import RawArgs, Signature, is_file_schema, resolve
from modelport.contract.files import UploadedFile

_STRING_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "uri": "https://example.org/",
    "email": "someone@example.org",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A small valid RGB PNG image (a gradient), made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 32 % 256, y * 32 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def example_arguments(signature: Signature, workdir: Path, *, training: bool = False) -> RawArgs:
    """Raw arguments (JSON values, PNG uploads written into ``workdir``) that should validate."""
    raw = RawArgs()
    defs = signature.schema.get("$defs", {})
    for name, prop in signature.properties.items():
        if is_file_schema(prop):
            if "default" in prop:  # an optional upload: leave it out, as a caller may
                continue
            path = workdir / f"{name}.png"
            path.write_bytes(tiny_png())
            raw.add(name, UploadedFile(name, str(path), "image/png", "example.png"))
            continue
        examples = prop.get("examples")
        if isinstance(examples, list) and examples:
            raw.json[name] = examples[0]
        elif training and _is_bounded_integer(prop):
            raw.json[name] = _number(prop, integer=True)
        elif "default" not in prop:
            raw.json[name] = example_value(prop, defs)
    return raw


def _is_bounded_integer(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "integer" and ("minimum" in prop or "exclusiveMinimum" in prop)


def example_value(prop: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A value the JSON schema ``prop`` accepts (best effort: patterns are not generated)."""
    defs = defs or {}
    prop = resolve(prop, defs)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in prop.get(key, []) if o.get("type") != "null"]
        if options:
            return example_value({**options[0], **_without(prop, key)}, defs)
    if isinstance(prop.get("examples"), list) and prop["examples"]:
        return prop["examples"][0]
    if "const" in prop:
        return prop["const"]
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return prop["enum"][0]
    if "default" in prop:
        return prop["default"]
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        return _number(prop, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "array":
        count = max(1, int(prop.get("minItems", 1)))
        return [example_value(prop.get("items", {}), defs) for _ in range(count)]
    if kind == "object":
        return {
            key: example_value(value, defs)
            for key, value in prop.get("properties", {}).items()
            if key in prop.get("required", [])
        }
    return _string(prop)


def _without(prop: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k != key}


def _number(prop: dict[str, Any], *, integer: bool) -> int | float:
    step = 1 if integer else 0.5
    low: float | None = prop.get("minimum")
    if low is None and prop.get("exclusiveMinimum") is not None:
        low = prop["exclusiveMinimum"] + (1 if integer else 0)
    high: float | None = prop.get("maximum")
    if high is None and prop.get("exclusiveMaximum") is not None:
        high = prop["exclusiveMaximum"] - (1 if integer else 0)
    if low is not None and high is not None:
        value = low if integer else (low + high) / 2
    elif low is not None:
        value = low if integer else low + step
    elif high is not None:
        value = min(high, 1) if integer else min(high - step, 1.0)
    else:
        value = 1 if integer else 0.5
    return int(value) if integer else float(value)


def _string(prop: dict[str, Any]) -> str:
    value = _STRING_FORMATS.get(str(prop.get("format")), "example")
    low = int(prop.get("minLength", 0))
    if len(value) < low:
        value = value + "x" * (low - len(value))
    high = prop.get("maxLength")
    if high is not None:
        value = value[: int(high)]
    return value


def guessed_arguments(signature: Signature) -> list[str]:
    """Required arguments without ``examples``: their generated values are only guesses."""
    props = signature.properties
    return [
        name
        for name in signature.required
        if name in props and not props[name].get("examples") and not is_file_schema(props[name])
    ]
