"""/swagger.json, side by side (what deepaas_ui and other clients read from it).

Compared: the DEEPaaS paths and methods modelport must also document (trailing
slash and ``{name}`` templates tolerated; modelport's extra paths ignored); per
predict/train operation the parameters as ``(name, in, type, format, required,
enum, default, minimum, maximum, items)`` and ``produces`` (as sets); and
``definitions.ModelPredictionResponse`` when the module has a ``schema``.
Descriptions, summaries, tags and ordering are ignored.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.compat.conftest import find_path

from .conftest import PROBE_MODELS, Pair, PairFactory, describe

pytestmark = pytest.mark.slow

MODELS = PROBE_MODELS
WITH_SCHEMA = ["probe-upload-isinstance", "deepaas-test"]
ABSENT = "<absent>"
PARAM_KEYS = ("in", "type", "format", "required", "enum", "default", "minimum", "maximum", "items")

_specs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def specs(p: Pair) -> tuple[dict[str, Any], dict[str, Any]]:
    if p.model not in _specs:
        d, m = p.both("GET", "/swagger.json")
        assert d.status_code == 200, describe(d)
        assert m.status_code == 200, describe(m)
        _specs[p.model] = (d.json(), m.json())
    return _specs[p.model]


def resolve(spec: dict[str, Any], schema: Any) -> Any:
    if isinstance(schema, dict) and "$ref" in schema:
        return spec.get("definitions", {}).get(schema["$ref"].split("/")[-1], {"$ref": "?"})
    return schema


def param_table(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """``{name: (in, type, format, required, enum, default, minimum, maximum, items)}``."""
    table = {}
    for raw in op.get("parameters", []):
        prm = resolve(spec, raw) if "name" not in raw else raw
        if prm.get("in") == "path":
            continue
        row = []
        for key in PARAM_KEYS:
            value = prm.get(key, ABSENT)
            if key == "type" and "$ref" in prm:
                # DEEPaaS (apispec 3) documents a Nested argument as a query
                # parameter carrying a $ref to a "Generated" object definition
                value = {"$ref": _shape(spec, {"$ref": prm["$ref"]})}
            elif key == "required":
                value = bool(prm.get("required", False))
            elif key == "items" and value is not ABSENT:
                value = {k: v for k, v in resolve(spec, value).items() if k in ("type", "format")}
            row.append(value)
        table[prm["name"]] = tuple(row)
    return table


def _op(spec: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    key = find_path(spec.get("paths", {}), path, templates=True)
    return None if key is None else spec["paths"][key].get(method)


@pytest.mark.parametrize("model", MODELS)
def test_swagger_documents_deepaas_paths(pair: PairFactory, model: str) -> None:
    d, m = specs(pair(model))
    assert m.get("swagger") == d.get("swagger") == "2.0", m.get("swagger")
    missing = [
        f"{method.upper()} {path}"
        for path, ops in d["paths"].items()
        for method in ops
        if _op(m, path, method) is None
    ]
    assert not missing, f"DEEPaaS documents, modelport does not: {missing}\n" + (
        f"modelport paths: {sorted(m['paths'])}"
    )


# Documented differences (README, "Differences from DEEPaaS 2.6"): (model, route, argument) ->
# what modelport writes instead of DEEPaaS's parameter.
DOCUMENTED = {
    # DEEPaaS puts a schema ($ref) where Swagger 2.0 wants a type name; modelport documents a
    # nested argument as what a query string or form carries: JSON text.
    ("probe-nested-errors", "predict/", "payload"): {"type": "string"},
    # apispec writes `default: null` for a Decimal without a default; modelport omits it.
    ("probe-formats", "predict/", "a_decimal"): {"default": "<absent>"},
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("route", ["predict/", "train/"])
def test_swagger_operation_parameters(pair: PairFactory, model: str, route: str) -> None:
    p = pair(model)
    d, m = specs(p)
    path = f"/v2/models/{model}/{route}"
    d_op, m_op = _op(d, path, "post"), _op(m, path, "post")
    assert d_op is not None, sorted(d["paths"])
    assert m_op is not None, f"modelport does not document POST {path}: {sorted(m['paths'])}"
    d_params, m_params = param_table(d, d_op), param_table(m, m_op)
    names = sorted(set(d_params) | set(m_params))
    diffs: dict[str, dict[str, Any]] = {
        n: {
            "deepaas": dict(zip(PARAM_KEYS, d_params.get(n, ()), strict=False)) or "missing",
            "modelport": dict(zip(PARAM_KEYS, m_params.get(n, ()), strict=False)) or "missing",
        }
        for n in names
        if d_params.get(n) != m_params.get(n)
    }
    for n, diff in diffs.items():  # show only the differing keys
        if isinstance(diff["deepaas"], dict) and isinstance(diff["modelport"], dict):
            keys = [k for k in PARAM_KEYS if diff["deepaas"][k] != diff["modelport"][k]]
            diffs[n] = {side: {k: diff[side][k] for k in keys} for side in diff}
    for n in list(diffs):
        documented = DOCUMENTED.get((model, route, n))
        if documented is not None:
            assert diffs.pop(n)["modelport"] == documented
    assert not diffs, f"POST {path} parameters differ: {diffs}"


@pytest.mark.parametrize("model", MODELS)
def test_swagger_predict_produces(pair: PairFactory, model: str) -> None:
    d, m = specs(pair(model))
    path = f"/v2/models/{model}/predict/"
    d_op, m_op = _op(d, path, "post") or {}, _op(m, path, "post") or {}
    assert set(m_op.get("produces", [])) == set(d_op.get("produces", [])), (
        f"produces: DEEPaaS {d_op.get('produces')}, modelport {m_op.get('produces')}"
    )


def _shape(spec: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """A schema reduced to types, formats and required names, refs resolved."""
    schema = resolve(spec, schema)
    if not isinstance(schema, dict) or depth > 4:
        return schema
    out: dict[str, Any] = {k: schema[k] for k in ("type", "format") if k in schema}
    if schema.get("required"):
        out["required"] = sorted(schema["required"])
    if "items" in schema:
        out["items"] = _shape(spec, schema["items"], depth + 1)
    if "properties" in schema:
        out["properties"] = {k: _shape(spec, v, depth + 1) for k, v in schema["properties"].items()}
    return out


@pytest.mark.parametrize("model", WITH_SCHEMA)
def test_swagger_model_prediction_response(pair: PairFactory, model: str) -> None:
    d, m = specs(pair(model))
    d_def = d.get("definitions", {}).get("ModelPredictionResponse")
    m_def = m.get("definitions", {}).get("ModelPredictionResponse")
    assert d_def is not None, sorted(d.get("definitions", {}))
    assert m_def is not None, f"no ModelPredictionResponse: {sorted(m.get('definitions', {}))}"
    assert _shape(m, m_def) == _shape(d, d_def), (
        f"DEEPaaS {_shape(d, d_def)}\nmodelport {_shape(m, m_def)}"
    )
