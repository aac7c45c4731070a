"""Example arguments generated from argument schemas."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import pytest

from modelport import Field, File, Model
from modelport.contract.base import is_file_schema
from modelport.contract.typed import TypedModel
from modelport.quality.examples import example_arguments, example_value, tiny_png


class Everything(Model):
    """A model with one argument of each kind."""

    def predict(
        self,
        image: File,
        count: int = Field(ge=3, le=9),
        ratio: float = Field(gt=0, lt=1),
        mode: Literal["fast", "exact"] = Field(),
        label: str = Field(min_length=12),
        tags: list[str] = Field(min_length=2),
        when: str = Field(examples=["2020-02-02"]),
        flag: bool = Field(),
        top_k: int = Field(5, ge=1),
    ) -> dict[str, object]:
        return {"count": count}

    def train(self, ctx: object, epochs: int = Field(10, ge=1), lr: float = 0.1) -> None:
        return None


def test_each_kind_of_argument_gets_a_value_that_validates(tmp_path: Path) -> None:
    served = TypedModel(Everything(), "test")
    raw = example_arguments(served.predict_signature, tmp_path)
    assert raw.json["count"] == 3
    assert 0 < raw.json["ratio"] < 1
    assert raw.json["mode"] == "fast"
    assert len(raw.json["label"]) >= 12
    assert raw.json["when"] == "2020-02-02"
    assert raw.json["flag"] is False
    assert "top_k" not in raw.json  # the default is the model's own
    (upload,) = raw.multi["image"]
    assert Path(upload.filename).read_bytes() == tiny_png()
    kwargs = served.prepare(raw)
    assert kwargs["top_k"] == 5
    assert kwargs["image"].media_type == "image/png"


def test_training_takes_the_lower_bound_of_integer_arguments(tmp_path: Path) -> None:
    served = TypedModel(Everything(), "test")
    assert served.train_signature is not None
    raw = example_arguments(served.train_signature, tmp_path, training=True)
    assert raw.json == {"epochs": 1}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "exclusiveMinimum": 0}, 1),
        ({"type": "integer", "maximum": -4}, -4),
        ({"type": "number", "minimum": 2, "maximum": 4}, 3.0),
        ({"type": "number"}, 0.5),
        ({"type": "string", "format": "uri"}, "https://example.org/"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 7}]}, 7),
        ({"const": "x"}, "x"),
        ({"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 2}, ["a", "a"]),
        ({"$ref": "#/$defs/Point"}, {"x": 0.5}),
    ],
)
def test_example_value(schema: dict[str, object], expected: object) -> None:
    defs = {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}}
    assert example_value(schema, defs) == expected


def test_the_generated_png_is_an_image() -> None:
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(io.BytesIO(tiny_png(4, 3))) as image:
        image.load()
        assert image.size == (4, 3)
        assert image.mode == "RGB"


def test_file_schema_is_recognised() -> None:
    assert is_file_schema({"type": "string", "format": "binary"})


class OptionalUpload(Model):
    """An upload that may be left out."""

    def predict(self, batch: File | None = None, url: str = Field()) -> str:
        return "ok"


def test_optional_uploads_are_left_out_and_required_guesses_are_named(tmp_path: Path) -> None:
    from modelport.quality.examples import guessed_arguments

    served = TypedModel(OptionalUpload(), "test")
    raw = example_arguments(served.predict_signature, tmp_path)
    assert raw.multi == {}
    assert raw.json == {"url": "example"}
    assert guessed_arguments(served.predict_signature) == ["url"]
