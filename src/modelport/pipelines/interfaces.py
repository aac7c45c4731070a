"""A module version's inputs and output, read from its own OpenAPI document, and whether a value
of one schema can feed an input of another.

The rules of :func:`fits` (``source`` feeds ``target``):

- an unknown schema on either side (a legacy module that declares no response) fits anything
  (the step's own validation judges the value when it runs);
- a file input (``format: binary``) takes a file (the pipeline's upload, a step's binary answer)
  or a base64 string (``contentEncoding: base64``, ``format: byte``/``base64``);
- ``number`` takes ``integer``; otherwise JSON types must match; arrays fit by their items;
  objects fit when every property the target requires is declared by the source with a fitting
  schema (a source object that declares no properties fits);
- a union fits a target when each of its branches fits it; a value fits a union target
  when it fits one of its branches; a ``null`` source branch fits an optional target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelport.errors import InvalidInput

Schema = dict[str, Any]
#: a schema nobody declared: fits anything, takes anything
UNKNOWN: Schema = {}
FILE: Schema = {"type": "string", "format": "binary"}
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Interface:
    """What a module version's predict takes and answers (schemas fully inlined)."""

    inputs: dict[str, Schema]
    required: list[str]
    output: Schema = field(default_factory=dict)
    #: the media type of its answer when it is not JSON (an image, ...)
    output_media: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For the composer and the API."""
        return {
            "inputs": self.inputs,
            "required": self.required,
            "output": self.output,
            "output_media": self.output_media,
        }


def interface_of(openapi: dict[str, Any], module: str) -> Interface:
    """The predict interface of ``module`` in its own OpenAPI document."""
    operation = None
    for path, item in (openapi.get("paths") or {}).items():
        if path.rstrip("/").endswith(f"/{module}/predict") and isinstance(item, dict):
            operation = item.get("post")
            break
    if not isinstance(operation, dict):
        raise InvalidInput({"module": [f"'{module}' documents no predict operation"]})
    components = (openapi.get("components") or {}).get("schemas") or {}
    inputs: dict[str, Schema] = {}
    required: list[str] = []
    content = (operation.get("requestBody") or {}).get("content") or {}
    for kind in ("multipart/form-data", "application/json", "application/x-www-form-urlencoded"):
        if kind in content:
            body = inline(content[kind].get("schema") or {}, components)
            inputs.update(body.get("properties") or {})
            required = list(body.get("required") or [])
            break
    for parameter in operation.get("parameters") or []:  # query arguments (legacy modules)
        if isinstance(parameter, dict) and parameter.get("in") == "query":
            name = str(parameter.get("name"))
            inputs.setdefault(name, inline(parameter.get("schema") or {}, components))
            if parameter.get("required"):
                required.append(name)
    answer = ((operation.get("responses") or {}).get("200") or {}).get("content") or {}
    if "application/json" in answer:
        output = inline(answer["application/json"].get("schema") or {}, components)
        return Interface(inputs, sorted(set(required)), output)
    if answer:  # a binary answer (an image, ...)
        return Interface(inputs, sorted(set(required)), FILE, next(iter(answer)))
    return Interface(inputs, sorted(set(required)), UNKNOWN)


def inline(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """``schema`` with every ``#/components/schemas`` (or ``$defs``) reference replaced by its
    target (a recursive schema becomes unknown below a depth)."""
    if depth > _MAX_DEPTH:
        return {}
    if isinstance(schema, list):
        return [inline(item, components, depth + 1) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = components.get(ref.rsplit("/", 1)[-1], {})
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**inline(target, components, depth + 1), **rest}
    return {k: inline(v, components, depth + 1) for k, v in schema.items() if k != "$defs"}


def is_file(schema: Schema) -> bool:
    """A file upload's schema."""
    return schema.get("type") == "string" and schema.get("format") == "binary"


def is_base64(schema: Schema) -> bool:
    """A string schema carrying bytes as base64."""
    return schema.get("type") == "string" and (
        schema.get("contentEncoding") == "base64" or schema.get("format") in ("byte", "base64")
    )


def _branches(schema: Schema) -> list[Schema] | None:
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return [b for b in schema[key] if isinstance(b, dict)]
    types = schema.get("type")
    if isinstance(types, list):
        return [{**schema, "type": t} for t in types]
    return None


def _is_null(schema: Schema) -> bool:
    return schema.get("type") == "null"


def fits(source: Schema, target: Schema, depth: int = 0) -> str | None:
    """Why a value of ``source`` cannot feed ``target`` (None: it can)."""
    if not source or not target or depth > _MAX_DEPTH:
        return None
    branches = _branches(source)
    if branches is not None:
        for branch in branches:
            if _is_null(branch):
                continue
            problem = fits(branch, target, depth + 1)
            if problem is not None:
                return problem
        return None
    targets = _branches(target)
    if targets is not None:
        found = [fits(source, branch, depth + 1) for branch in targets if not _is_null(branch)]
        return None if not found or None in found else found[0]
    if "allOf" in target or "allOf" in source:
        return None  # rare in module schemas: left to the step's own validation
    return _fits_type(source, target, depth)


def _fits_type(source: Schema, target: Schema, depth: int) -> str | None:
    wanted = target.get("type")
    given = source.get("type")
    if wanted is None or given is None:
        return None
    if is_file(target):
        if is_file(source) or is_base64(source):
            return None
        return f"a file is wanted, but {describe(source)} is given"
    if is_file(source):
        return f"{describe(target)} is wanted, but a file is given"
    if wanted == given or (wanted == "number" and given == "integer"):
        if wanted == "array":
            return fits(source.get("items") or {}, target.get("items") or {}, depth + 1)
        if wanted == "object":
            return _fits_object(source, target, depth)
        if "enum" in target and "enum" in source:
            extra = [v for v in source["enum"] if v not in target["enum"]]
            if extra:
                return f"{extra[0]!r} may be given, but only {target['enum']} are taken"
        return None
    return f"{describe(target)} is wanted, but {describe(source)} is given"


def _fits_object(source: Schema, target: Schema, depth: int) -> str | None:
    given = source.get("properties")
    if not isinstance(given, dict):
        return None
    wanted = target.get("properties") or {}
    for name in target.get("required") or []:
        if name not in given:
            return f"an object with '{name}' is wanted; the value has no '{name}'"
        problem = fits(given[name], wanted.get(name) or {}, depth + 1)
        if problem is not None:
            return f"'{name}': {problem}"
    return None


def describe(schema: Schema) -> str:
    """A schema's type in words."""
    if is_file(schema):
        return "a file"
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items") or {}
        return f"a list of {describe(items)}" if items.get("type") else "a list"
    if kind == "object":
        title = schema.get("title")
        return f"an object ({title})" if title else "an object"
    if kind == "integer":
        return "an integer"
    return f"a {kind}" if kind else "anything"


def at_path(schema: Schema, path: tuple[str | int, ...]) -> Schema | str:
    """The schema of the value ``path`` leads to in a value of ``schema``, or why there is
    none (an unknown schema has unknown parts)."""
    current = schema
    walked: list[str] = []
    for part in path:
        if not current:
            return UNKNOWN
        branches = _branches(current)
        if branches is not None:  # Optional[X]: walk X
            kept = [b for b in branches if not _is_null(b)]
            current = kept[0] if len(kept) == 1 else UNKNOWN
            if not current:
                return UNKNOWN
        kind = current.get("type")
        if isinstance(part, int):
            if kind != "array":
                return f"'{'.'.join(walked) or 'it'}' is {describe(current)}, not a list"
            current = current.get("items") or UNKNOWN
        else:
            properties = current.get("properties")
            if kind != "object" and properties is None:
                return f"'{'.'.join(walked) or 'it'}' is {describe(current)}, not an object"
            if isinstance(properties, dict):
                if part not in properties:
                    if current.get("additionalProperties", True) is False or properties:
                        known = ", ".join(sorted(properties)) or "none"
                        return f"there is no '{part}' (there is: {known})"
                    return UNKNOWN
                current = properties[part]
            else:
                extra = current.get("additionalProperties")
                current = extra if isinstance(extra, dict) else UNKNOWN
        walked.append(str(part))
    return current
