"""The legacy DEEPaaS adapter: fields become schemas; validation and output as in DEEPaaS."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from webargs import fields, validate

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.contract.deepaas import DeepaasModel
from modelport.errors import (
    InvalidInput,
    InvalidOutput,
    ModelError,
    ModelLoadError,
    NotImplementedByModel,
)


def test_fields_become_json_schema() -> None:
    model = discovery.load("legacy")
    assert isinstance(model, DeepaasModel)
    props = model.predict_signature.properties
    assert props["data"] == {"type": "string", "format": "binary", "description": "An image"}
    assert props["number"] == {"type": "integer", "format": "int32", "minimum": 0, "maximum": 100}
    assert props["flavour"] == {"type": "string", "enum": ["foo", "bar"], "default": "foo"}
    assert props["ratio"]["description"] == "a ratio"
    assert props["names"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert props["label"] == {
        "type": "string",
        "description": "old marshmallow-2 style",
        "default": "none",
    }
    assert "accept" not in props
    # DEEPaaS appends */* to the choices; the argument is read from the query string or body
    accept = ("application/json", "text/plain", "image/png", "*/*")
    assert model.predict_signature.accept == accept
    assert model.predict_signature.accept_in == "query"
    assert model.predict_signature.required == ["number"]
    assert model.produces == ["application/json", "text/plain", "image/png", "*/*"]
    assert model.response_schema is not None
    assert model.response_schema["properties"]["number"] == {"type": "integer", "format": "int32"}


def test_validation_uses_marshmallow_messages() -> None:
    model = discovery.load("legacy")
    raw = RawArgs()
    raw.add("number", "500")
    raw.add("flavour", "baz")
    with pytest.raises(InvalidInput) as caught:
        model.prepare(raw)
    assert caught.value.errors == {
        "number": ["Must be greater than or equal to 0 and less than or equal to 100."],
        "flavour": ["Must be one of: foo, bar."],
    }


def test_output_schema_and_wrapping() -> None:
    model = discovery.load("legacy")
    ok = model.predict(model.prepare(RawArgs(json={"number": 4})))
    assert json.loads(ok.content)["number"] == 4
    with pytest.raises(InvalidOutput):
        model.predict(model.prepare(RawArgs(json={"number": 99})))
    with pytest.raises(ModelError, match="unlucky"):
        model.predict(model.prepare(RawArgs(json={"number": 13})))
    bare = discovery.load("legacy-bare")
    wrapped = bare.predict(bare.prepare(RawArgs(json={"x": 2})))
    assert json.loads(wrapped.content) == {"status": "OK", "predictions": [2, 4]}


def test_object_with_methods_and_class_schema() -> None:
    import marshmallow

    class Out(marshmallow.Schema):
        y = fields.Int(required=True)

    obj = SimpleNamespace(
        get_predict_args=lambda: {"x": fields.Int(validate=validate.Range(min=1))},
        predict=lambda **kw: {"y": kw.get("x", 1) * 2},
        schema=Out,
    )
    model = DeepaasModel(obj, "obj", "test")
    assert json.loads(model.predict(model.prepare(RawArgs(json={"x": 3}))).content) == {"y": 6}
    assert model.response_schema == {
        "type": "object",
        "properties": {"y": {"type": "integer", "format": "int32"}},
        "required": ["y"],
    }


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (SimpleNamespace(predict=dict, schema=42), "schema must be"),
        (SimpleNamespace(predict=dict, get_predict_args=list), "must return a dict"),
    ],
)
def test_broken_modules_fail_at_load(obj: object, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        DeepaasModel(obj, "broken", "test")


def test_a_module_without_predict_or_train_loads_and_answers_501() -> None:
    # DEEPaaS serves a module with only get_metadata: its metadata, and 501 for the rest.
    model = DeepaasModel(SimpleNamespace(get_metadata=lambda: {"name": "m"}), "meta", "test")
    assert model.metadata()["name"] == "m"
    assert not model.trainable
    loaded = "Not implemented by underlying model (loaded 'meta')"
    with pytest.raises(NotImplementedByModel, match=re.escape(loaded)):
        model.prepare(RawArgs())
    with pytest.raises(NotImplementedByModel, match=re.escape(loaded)):
        model.prepare_train(RawArgs())
