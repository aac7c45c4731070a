"""The legacy DEEPaaS adapter: fields become schemas; validation and output as in DEEPaaS."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from webargs import fields, validate

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.contract.deepaas import DeepaasModel
from modelport.contract.files import UploadedFile
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


def _upload_module() -> SimpleNamespace:
    args = {"image": fields.Field(required=True, metadata={"type": "file", "location": "form"})}
    return SimpleNamespace(get_predict_args=lambda: args, predict=lambda **kw: kw)


def _raw_with_upload(tmp_path: Path) -> RawArgs:
    photo = tmp_path / "0"
    photo.write_bytes(b"\x89PNG")
    raw = RawArgs()
    raw.add("image", UploadedFile("image", str(photo), "image/png", "photo.png"))
    return raw


def test_uploads_are_deepaas_own_class_when_deepaas_is_installed(tmp_path: Path) -> None:
    # The AI4OS reference module checks isinstance(value, deepaas.model.v2.wrapper.UploadedFile).
    from deepaas.model.v2.wrapper import UploadedFile as DeepaasUploadedFile

    model = DeepaasModel(_upload_module(), "uploads", "test")
    upload = model.prepare(_raw_with_upload(tmp_path))["image"]
    assert isinstance(upload, DeepaasUploadedFile)
    assert upload == ("image", str(tmp_path / "0"), "image/png", "photo.png")
    assert (upload.filename, upload.original_filename) == (str(tmp_path / "0"), "photo.png")


def test_uploads_are_duck_typed_when_deepaas_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "deepaas" or m.startswith("deepaas.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "deepaas", None)  # import deepaas -> ImportError
    model = DeepaasModel(_upload_module(), "uploads", "test")
    upload = model.prepare(_raw_with_upload(tmp_path))["image"]
    assert type(upload) is UploadedFile
    assert (upload.name, upload.content_type, upload.original_filename) == (
        "image",
        "image/png",
        "photo.png",
    )


@pytest.mark.parametrize(
    ("package", "pinned"),
    [
        ("webargs", "5.5.3"),  # ai4os-demo-app: webargs~=5.5.3; DEEPaaS 2.x: webargs<6
        ("webargs", "8.7.1"),  # modules written for webargs 8
        ("marshmallow", "3.26.2"),  # planktonclas pins marshmallow==3.26.2
    ],
)
def test_the_deepaas_extra_admits_what_real_modules_pin(package: str, pinned: str) -> None:
    # `pip install 'modelport[deepaas]' <module>` resolves only if the extra admits its pins.
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    extra = [Requirement(r) for r in requires("modelport") or [] if "extra == 'deepaas'" in r]
    (wanted,) = [r for r in extra if r.name == package]
    assert wanted.specifier.contains(pinned), (str(wanted), pinned)
