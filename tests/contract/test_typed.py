"""The typed contract: hints become the schema, validation, and the response."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from modelport import Binary, Field, File, Model
from modelport.contract.base import RawArgs
from modelport.contract.files import UploadedFile
from modelport.contract.typed import TypedModel
from modelport.errors import InvalidInput, ModelError, ModelLoadError


class Box(BaseModel):
    label: str
    score: float


class Detector(Model):
    """Find boxes.

    Longer description.
    """

    version = "1.0"
    license = "Apache-2.0"

    def predict(
        self,
        image: File,
        threshold: float = Field(0.5, ge=0, le=1, description="Minimum score"),
        mode: Literal["fast", "exact"] = "fast",
        labels: list[str] | None = None,
    ) -> list[Box]:
        return [Box(label=mode, score=threshold)]


def _upload(tmp_path, name: str = "img.png") -> UploadedFile:
    path = tmp_path / "upload"
    path.write_bytes(b"\x89PNG....")
    return UploadedFile("image", str(path), "image/png", name)


def test_schema_comes_from_the_hints() -> None:
    model = TypedModel(Detector(), "test")
    assert model.name == "detector"
    props = model.predict_signature.properties
    assert props["image"] == {"type": "string", "format": "binary", "title": "Image"}
    assert props["threshold"]["minimum"] == 0
    assert props["threshold"]["maximum"] == 1
    assert props["threshold"]["default"] == 0.5
    assert props["threshold"]["description"] == "Minimum score"
    assert props["mode"]["enum"] == ["fast", "exact"]
    assert props["labels"]["type"] == "array"
    assert model.predict_signature.required == ["image"]
    assert model.response_schema is not None
    assert model.response_schema["type"] == "array"
    assert model.metadata()["description"] == "Find boxes.\n\nLonger description."


def test_prepare_validates_and_builds_a_file(tmp_path) -> None:
    model = TypedModel(Detector(), "test")
    raw = RawArgs()
    raw.add("image", _upload(tmp_path))
    raw.add("threshold", "0.25")
    kwargs = model.prepare(raw)
    assert isinstance(kwargs["image"], File)
    assert kwargs["image"].filename == "img.png"
    assert kwargs["image"].media_type == "image/png"
    assert kwargs["threshold"] == 0.25
    result = model.predict(kwargs)
    assert result.media_type == "application/json"
    assert result.content == b'[{"label":"fast","score":0.25}]'


def test_prepare_reports_every_bad_field() -> None:
    model = TypedModel(Detector(), "test")
    raw = RawArgs(json={"threshold": 2, "mode": "slow", "labels": "x"})
    with pytest.raises(InvalidInput) as caught:
        model.prepare(raw)
    errors = caught.value.errors
    assert set(errors) == {"image", "threshold", "mode", "labels"}
    assert errors["image"] == ["Missing data for required field."]
    assert "less than or equal to 1" in errors["threshold"][0]


def test_return_types_drive_the_media_type() -> None:
    class Texts(Model):
        def predict(self, n: int = 1) -> str:
            return "x" * n

    class Blobs(Model):
        def predict(self) -> bytes:
            return b"\x00\x01"

    class Images(Model):
        def predict(self) -> Binary:
            return Binary(b"GIF89a", media_type="image/gif", filename="a.gif")

    class Untyped(Model):
        def predict(self):  # type: ignore[no-untyped-def]
            return {"a": [1, 2]}

    text = TypedModel(Texts(), "t")
    assert text.produces == ["text/plain"]
    assert text.predict({"n": 2}).content == b"xx"
    assert TypedModel(Blobs(), "b").predict({}).media_type == "application/octet-stream"
    gif = TypedModel(Images(), "i").predict({})
    assert (gif.media_type, gif.filename, gif.content) == ("image/gif", "a.gif", b"GIF89a")
    assert TypedModel(Untyped(), "u").predict({}).content == b'{"a":[1,2]}'


def test_numpy_results_are_json_encoded() -> None:
    np = pytest.importorskip("numpy")

    class Arrays(Model):
        def predict(self):  # type: ignore[no-untyped-def]
            return {"v": np.arange(3), "s": np.float32(0.5)}

    assert TypedModel(Arrays(), "a").predict({}).content == b'{"v":[0,1,2],"s":0.5}'


def test_model_exception_becomes_model_error_with_traceback() -> None:
    class Boom(Model):
        def predict(self) -> dict[str, int]:
            raise KeyError("weights")

    with pytest.raises(ModelError) as caught:
        TypedModel(Boom(), "b").predict({})
    assert caught.value.message == "KeyError: 'weights'"
    assert caught.value.detail is not None
    assert "Traceback" in caught.value.detail


def test_unservable_signatures_fail_at_load() -> None:
    class Varargs(Model):
        def predict(self, *images: str) -> str:
            return ""

    class NoPredict(Model):
        pass

    with pytest.raises(ModelLoadError, match=r"\*args"):
        TypedModel(Varargs(), "v")
    with pytest.raises(ModelLoadError, match="no predict"):
        TypedModel(NoPredict(), "n")


def test_train_signature_skips_the_context() -> None:
    class Trainable(Model):
        def predict(self, x: int) -> int:
            return x

        def train(self, ctx: object, epochs: int = Field(3, ge=1)) -> dict[str, int]:
            return {"epochs": epochs}

    model = TypedModel(Trainable(), "t")
    assert model.train_signature is not None
    assert list(model.train_signature.properties) == ["epochs"]
