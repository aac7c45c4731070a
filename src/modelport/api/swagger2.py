"""The same API as Swagger 2.0, for DEEPaaS-era clients (the DEEPaaS Gradio UI among them).

Converted from the OpenAPI 3.1 document. Request bodies become per-argument ``parameters`` the
way DEEPaaS published them: files ``in: formData`` with ``type: file``, other arguments
``in: query``, the ``accept`` argument ``in: header``; response schemas go to ``definitions``
(the first model's prediction also as ``ModelPredictionResponse``, which the Gradio UI reads).
"""

from __future__ import annotations

from typing import Any

from modelport.contract.base import is_file_schema, resolve

_REF_30 = "#/components/schemas/"
_REF_20 = "#/definitions/"
_PARAM_KEYS = (
    "format",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)
_PRIMITIVES = {"string", "integer", "number", "boolean"}


def convert_schema(node: Any) -> Any:
    """A JSON Schema 2020-12 node rewritten to Swagger 2.0's schema dialect."""
    if isinstance(node, list):
        return [convert_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.pop("anyOf", None)
    if isinstance(any_of, list):
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) == 1:
            node = {**non_null[0], **node}
            if len(non_null) < len(any_of):
                node["x-nullable"] = True
        elif non_null:
            node["x-anyOf"] = non_null
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        node["type"] = types[0] if types else "string"
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for side in ("Minimum", "Maximum"):
        key = f"exclusive{side}"
        if isinstance(node.get(key), int | float) and not isinstance(node.get(key), bool):
            node[side.lower()] = node.pop(key)
            node[key] = True
    if "examples" in node:
        examples = node.pop("examples")
        if isinstance(examples, list) and examples:
            node["example"] = examples[0]
    node.pop("prefixItems", None)
    node.pop("contentMediaType", None)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_30):
        node["$ref"] = _REF_20 + ref[len(_REF_30) :]
    return {k: v if k in {"enum", "default"} else convert_schema(v) for k, v in node.items()}


def _parameter(name: str, prop: dict[str, Any], required: bool, location: str) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": location, "required": required}
    if prop.get("description"):
        param["description"] = prop["description"]
    if is_file_schema(prop):
        param["in"] = "formData"
        param["type"] = "file"
        return param
    kind = prop.get("type")
    if kind == "array" and prop.get("items", {}).get("type") in _PRIMITIVES:
        param["type"] = "array"
        items: dict[str, Any] = prop["items"]
        param["items"] = {k: v for k, v in items.items() if k in ("type", "enum", *_PARAM_KEYS)}
        param["collectionFormat"] = "multi"
    elif kind in _PRIMITIVES:
        param["type"] = kind
    else:
        param["type"] = "string"
        param["description"] = (param.get("description", "") + " (JSON)").strip()
    converted = convert_schema(prop)
    for key in _PARAM_KEYS:
        if key in converted and not (key == "format" and param["type"] != kind):
            param[key] = converted[key]
    if converted.get("exclusiveMinimum") is True:
        param["exclusiveMinimum"] = True
    if converted.get("exclusiveMaximum") is True:
        param["exclusiveMaximum"] = True
    return param


def _body_parameters(body: dict[str, Any], defs: dict[str, Any]) -> tuple[list[Any], list[str]]:
    content = body.get("content", {})
    form = content.get("multipart/form-data") or content.get("application/x-www-form-urlencoded")
    if form is None:
        first: dict[str, Any] = next(iter(content.values()), {})
        json_schema = first.get("schema", {})
        body_param = {"name": "body", "in": "body", "required": bool(body.get("required"))}
        return [{**body_param, "schema": convert_schema(json_schema)}], ["application/json"]
    schema = form["schema"]
    required = set(schema.get("required", []))
    params = []
    consumes = ["application/x-www-form-urlencoded"]
    for name, declared in schema.get("properties", {}).items():
        prop = resolve(declared, defs)
        if is_file_schema(prop):
            consumes = ["multipart/form-data"]
        params.append(_parameter(name, prop, name in required, "query"))
    return params, consumes


def _operation(op: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    keys = ("tags", "summary", "description", "operationId")
    out: dict[str, Any] = {k: op[k] for k in keys if k in op}
    params = []
    for param in op.get("parameters", []):
        schema = param.get("schema", {})
        converted = _parameter(
            param["name"], resolve(schema, defs), param.get("required", False), param["in"]
        )
        if param.get("description"):
            converted["description"] = param["description"]
        params.append(converted)
    produces: list[str] = []
    if "requestBody" in op:
        body_params, consumes = _body_parameters(op["requestBody"], defs)
        params.extend(body_params)
        out["consumes"] = consumes
    out["parameters"] = params
    responses = {}
    for code, response in op.get("responses", {}).items():
        converted_response: dict[str, Any] = {"description": response.get("description", "")}
        for media, body in response.get("content", {}).items():
            if media not in produces:
                produces.append(media)
            if "schema" in body and "schema" not in converted_response:
                schema = body["schema"]
                if schema.get("type") == "string" and "contentMediaType" in schema:
                    schema = {"type": "file"}
                converted_response["schema"] = convert_schema(schema)
        responses[code] = converted_response
    out["responses"] = responses
    success = op.get("responses", {}).get("200", {}).get("content", {})
    out["produces"] = list(success) or produces or ["application/json"]
    return out


def to_swagger2(spec: dict[str, Any]) -> dict[str, Any]:
    """Swagger 2.0 equivalent of an OpenAPI 3.1 document."""
    defs = spec.get("components", {}).get("schemas", {})
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        paths[path] = {method: _operation(op, defs) for method, op in item.items()}
    definitions = {name: convert_schema(schema) for name, schema in defs.items()}
    first = next((n for n in definitions if n.endswith("PredictionResponse")), None)
    if first is not None:
        definitions.setdefault("ModelPredictionResponse", definitions[first])
    info = spec.get("info", {})
    return {
        "swagger": "2.0",
        "info": {"title": info.get("title", "modelport"), "version": info.get("version", "")},
        "basePath": "/",
        "paths": paths,
        "definitions": definitions,
    }
