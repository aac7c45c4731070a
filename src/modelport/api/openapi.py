"""OpenAPI 3.1 for the model routes, generated from each model's argument and result schemas.

FastAPI documents the static routes; this module adds one predict operation per served model
(arguments as a form, multipart or JSON body, the ``accept`` header, every response).
"""

from __future__ import annotations

import re
from typing import Any

from modelport.contract.base import (
    JSON_MEDIA_TYPE,
    ServedModel,
    Signature,
    is_file_schema,
    resolve,
)

COMPONENTS_REF = "#/components/schemas/"
_DEFS_REF = re.compile(r"^#/\$defs/(.+)$")

FAILURE = {
    "type": "object",
    "title": "Failure",
    "properties": {"message": {"type": "string", "description": "what went wrong"}},
    "required": ["message"],
}
ARGUMENT_ERRORS = {
    "type": "object",
    "title": "ArgumentErrors",
    "description": "Each invalid argument mapped to its error messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
LEGACY_PREDICTION = {
    "type": "object",
    "title": "Prediction",
    "properties": {"status": {"type": "string", "example": "OK"}, "predictions": {}},
    "required": ["status", "predictions"],
}
ERROR_RESPONSES = {
    "400": "Malformed body (bad JSON or multipart)",
    "404": "Model not found",
    "413": "Upload larger than the server's limit",
    "415": "Unsupported request media type",
    "500": "The model raised an error",
    "503": "Model busy (see Retry-After) or still warming up",
    "504": "The prediction did not finish in time",
}


def json_ref(component: str) -> dict[str, Any]:
    """A JSON content map whose schema is the named component."""
    return {JSON_MEDIA_TYPE: {"schema": {"$ref": COMPONENTS_REF + component}}}


def operation_id(action: str, model: ServedModel) -> str:
    """A unique operationId such as ``predict_my_model``."""
    return f"{action}_{re.sub(r'[^0-9A-Za-z_]', '_', model.name)}"


def schema_name(model: str, suffix: str) -> str:
    """A components name like ``FakeModelPredictArgs``."""
    return re.sub(r"[^0-9A-Za-z]+", " ", model).title().replace(" ", "") + suffix


def relocate(
    schema: dict[str, Any], prefix: str, target: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move a schema's ``$defs`` out: return (schema, defs) with refs pointing at ``target``."""
    defs = {f"{prefix}{k}": v for k, v in schema.get("$defs", {}).items()}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$defs":
                    continue
                if key == "$ref" and isinstance(value, str) and (m := _DEFS_REF.match(value)):
                    out[key] = f"{target}{prefix}{m.group(1)}"
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema), {k: walk(v) for k, v in defs.items()}


def _form_schema(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The args schema as a form body: objects (and other complex values) are sent as JSON text."""
    props = {}
    for name, prop in schema.get("properties", {}).items():
        resolved = resolve(prop, components)
        kind = resolved.get("type")
        if kind == "object" or (kind is None and not is_file_schema(resolved)):
            props[name] = {
                "type": "string",
                "contentMediaType": JSON_MEDIA_TYPE,
                "description": (prop.get("description", "") + " (JSON)").strip(),
            }
        else:
            props[name] = prop
    return {**schema, "properties": props}


def predict_operation(model: ServedModel, components: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 operation for one model's predict."""
    sig = model.predict_signature
    prefix = schema_name(model.name, "")
    args, defs = relocate(sig.schema, prefix, COMPONENTS_REF)
    args_name = schema_name(model.name, "PredictArgs")
    components.update(defs)
    components[args_name] = args
    ref = {"$ref": COMPONENTS_REF + args_name}
    has_files = bool(sig.files())
    content: dict[str, Any] = {"multipart/form-data": {"schema": _form_schema(args, components)}}
    if not has_files:
        content = {
            JSON_MEDIA_TYPE: {"schema": ref},
            "application/x-www-form-urlencoded": {"schema": _form_schema(args, components)},
            "multipart/form-data": {"schema": _form_schema(args, components)},
        }
    parameters = accept_parameters(sig)
    ok: dict[str, Any] = {}
    for media in model.produces:
        if media == JSON_MEDIA_TYPE:
            ok[media] = {"schema": _response_schema(model, components)}
        else:
            ok[media] = {"schema": {"type": "string", "contentMediaType": media}}
    responses: dict[str, Any] = {"200": {"description": "The prediction", "content": ok}}
    responses["422"] = {
        "description": "Invalid arguments, each bad field named",
        "content": json_ref("ArgumentErrors"),
    }
    failure = json_ref("Failure")
    for code, text in ERROR_RESPONSES.items():
        responses[code] = {"description": text, "content": failure}
    description = _description(model)
    description += (
        "\n\nArguments may be sent as query parameters, form fields, multipart/form-data "
        "(files) or a JSON object body."
    )
    return {
        "tags": ["models"],
        "summary": f"Predict with {model.name}",
        "description": description.strip(),
        "operationId": operation_id("predict", model),
        "parameters": parameters,
        "requestBody": {"required": bool(sig.required), "content": content},
        "responses": responses,
    }


def _description(model: ServedModel) -> str:
    """The model's description; a document is still served when its metadata fails (as DEEPaaS
    serves swagger.json without calling ``get_metadata()``)."""
    try:
        return str(model.metadata().get("description") or "")
    except Exception:
        return ""


def accept_parameters(sig: Signature, *, negotiated: bool = True) -> list[dict[str, Any]]:
    """The ``accept`` argument, where it is read: the Accept header, or the query string.

    ``negotiated``: predict's accept, which also takes ``*/*``; a training's ``accept`` (a legacy
    module's argument like any other) takes only its own choices.
    """
    if not sig.accept:
        return []
    header = sig.accept_in == "header"
    description = (
        "Media type of the prediction (content negotiation)."
        if header
        else "Media type of the prediction."
    )
    return [
        {
            "name": "accept",
            "in": "header" if header else "query",
            "required": sig.accept_required,
            "description": description,
            "schema": {
                "type": "string",
                "enum": list(dict.fromkeys([*sig.accept, *(["*/*"] if negotiated else [])])),
                **({"default": sig.accept_default} if sig.accept_default is not None else {}),
            },
        }
    ]


def _response_schema(model: ServedModel, components: dict[str, Any]) -> dict[str, Any]:
    if model.response_schema is None:
        if model.kind == "deepaas":
            components.setdefault("Prediction", LEGACY_PREDICTION)
            return {"$ref": COMPONENTS_REF + "Prediction"}
        return {}
    prefix = schema_name(model.name, "")
    schema, defs = relocate(model.response_schema, prefix, COMPONENTS_REF)
    name = schema_name(model.name, "PredictionResponse")
    components.update(defs)
    components[name] = schema
    return {"$ref": COMPONENTS_REF + name}


def train_operations(model: ServedModel, components: dict[str, Any]) -> dict[str, Any]:
    """The DEEPaaS v2 training operations of one model (501 when it has no ``train()``)."""
    sig = model.train_signature or Signature({"type": "object", "properties": {}})
    prefix = schema_name(model.name, "")
    args, defs = relocate(sig.schema, prefix, COMPONENTS_REF)
    args_name = schema_name(model.name, "TrainArgs")
    components.update(defs)
    components[args_name] = args
    failure = json_ref("Failure")
    training = json_ref("Training")
    errors = {
        "422": {
            "description": "Invalid arguments or resources",
            "content": json_ref("ArgumentErrors"),
        },
        "404": {"description": "Model not found", "content": failure},
    }
    if not model.trainable:
        errors["501"] = {"description": "The model has no train()", "content": failure}
    tag = ["training (DEEPaaS v2)"]
    return {
        "post": {
            "tags": tag,
            "summary": f"Train {model.name}",
            "description": "Queues a training job (shown as running until it ends). Follow it "
            "here or at /jobs/{uuid}.",
            "operationId": operation_id("train", model),
            "parameters": accept_parameters(sig, negotiated=False),
            "requestBody": {
                "required": bool(sig.required),
                "content": {
                    JSON_MEDIA_TYPE: {"schema": {"$ref": COMPONENTS_REF + args_name}},
                    "application/x-www-form-urlencoded": {"schema": _form_schema(args, components)},
                },
            },
            "responses": {"200": {"description": "The training", "content": training}, **errors},
        },
        "get": {
            "tags": tag,
            "summary": f"Trainings of {model.name}",
            "operationId": operation_id("list_trainings", model),
            "responses": {
                "200": {
                    "description": "Every training, oldest first",
                    "content": {
                        JSON_MEDIA_TYPE: {
                            "schema": {
                                "type": "array",
                                "items": {"$ref": COMPONENTS_REF + "Training"},
                            }
                        }
                    },
                }
            },
        },
    }


def training_operations(model: ServedModel) -> dict[str, Any]:
    """GET (status) and DELETE (cancel) of one training of a model."""
    failure = json_ref("Failure")
    training = json_ref("Training")
    uuid = {"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "get": {
            "tags": ["training (DEEPaaS v2)"],
            "summary": "A training's status",
            "operationId": operation_id("get_training", model),
            "parameters": [uuid],
            "responses": {
                "200": {"description": "The training", "content": training},
                "404": {"description": "No such training", "content": failure},
            },
        },
        "delete": {
            "tags": ["training (DEEPaaS v2)"],
            "summary": "Cancel a training",
            "operationId": operation_id("cancel_training", model),
            "parameters": [uuid],
            "responses": {
                "200": {"description": "The cancelled training", "content": training},
                "404": {"description": "No such training", "content": failure},
                "409": {"description": "The training already ended", "content": failure},
            },
        },
    }


TRAINING = {
    "type": "object",
    "title": "Training",
    "properties": {
        "uuid": {"type": "string"},
        "date": {"type": "string"},
        "args": {"type": "object"},
        "status": {"type": "string", "enum": ["running", "done", "error", "cancelled"]},
        "message": {"type": "string"},
        "result": {
            "type": "object",
            "properties": {
                "output": {},
                "finish_date": {"type": "string"},
                "duration": {"type": "string"},
            },
        },
    },
    "required": ["uuid", "date", "args", "status"],
}


def add_model_paths(
    spec: dict[str, Any], models: list[ServedModel], base_path: str
) -> dict[str, Any]:
    """Add each model's predict and training operations (and shared error schemas) to an
    OpenAPI 3.1 doc; every model has training routes, as under DEEPaaS (501 without train)."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components["Failure"] = FAILURE
    components["ArgumentErrors"] = ARGUMENT_ERRORS
    paths = spec.setdefault("paths", {})
    for model in models:
        path = f"{base_path}/v2/models/{model.name}/predict/"
        paths[path] = {"post": predict_operation(model, components)}
        components["Training"] = TRAINING
        train = f"{base_path}/v2/models/{model.name}/train/"
        paths[train] = train_operations(model, components)
        paths[f"{train}{{uuid}}"] = training_operations(model)
    return spec
