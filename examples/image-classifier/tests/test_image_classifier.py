"""The image classifier through the real contract: predict, retrain on a zip, serve the result."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from image_classifier.dataset import digit_image, make_demo_zip, read_class_folders
from image_classifier.features import PRETRAINED, load_extractor
from modelport.catalog.files import load_metadata
from modelport.contract import discovery
from modelport.contract.base import RawArgs, ServedModel
from modelport.contract.files import UploadedFile
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.db import connect
from modelport.errors import InvalidInput
from modelport.jobs.context import TrainContext
from modelport.jobs.domain import Job
from modelport.jobs.store import JobStore

PROJECT = Path(__file__).resolve().parents[1]


def predict(model: ServedModel, image: Path, **args: object) -> list[dict[str, object]]:
    """Call predict as the server does: an upload plus query arguments."""
    raw = RawArgs(json=dict(args))
    raw.add("image", UploadedFile("image", str(image), "image/png", image.name))
    result: list[dict[str, object]] = json.loads(model.predict(model.prepare(raw)).content)
    return result


def context(tmp_path: Path) -> tuple[TrainContext, JobStore]:
    """A real job record and TrainContext, artifacts under ``tmp_path``."""
    store = JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))
    job = store.create(Job(model="image-classifier", model_spec="image-classifier"))
    return TrainContext(store, job.id, str(tmp_path / "artifacts")), store


def test_pretrained_model_reads_digits_drawn_as_images(tmp_path: Path) -> None:
    model = discovery.load("image-classifier")
    model.warm()
    digits = load_digits()
    hits = 0
    for i in range(1747, 1797):  # the last images, drawn as a user would upload them
        path = tmp_path / f"{i}.png"
        digit_image(digits.data[i]).save(path)
        top = predict(model, path, top_k=3)
        assert len(top) == 3
        assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
        hits += top[0]["label"] == f"digit-{digits.target[i]}"
    assert hits / 50 > 0.9


def test_predict_rejects_a_missing_image_and_a_bad_top_k() -> None:
    model = discovery.load("image-classifier")
    with pytest.raises(InvalidInput) as caught:
        model.prepare(RawArgs(json={"top_k": 0}))
    assert set(caught.value.errors) == {"image", "top_k"}


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("notes.txt", b"not an image at all\n", "'notes.txt' is not an image."),
        ("cut.png", None, "'cut.png' is a broken image"),
    ],
)
def test_a_file_that_is_not_a_readable_image_is_refused_by_field(
    tmp_path: Path, name: str, content: bytes | None, said: str
) -> None:
    model = discovery.load("image-classifier")
    model.warm()
    path = tmp_path / name
    if content is None:  # a PNG cut short: PIL knows it, but cannot decode it
        digit_image(load_digits().data[0]).resize((256, 256)).save(tmp_path / "whole.png")
        content = (tmp_path / "whole.png").read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        predict(model, path)
    [message] = caught.value.errors["image"]
    assert message.startswith(said)
    assert message.endswith("Expected an image: PNG, JPEG, GIF, BMP, TIFF or WebP.")
    assert str(tmp_path) not in message


def test_retraining_on_a_zip_of_class_folders_then_serving_the_new_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_demo_zip(tmp_path / "train.zip", digits=(3, 8), per_class=40)
    ctx, store = context(tmp_path)
    model = discovery.load("image-classifier")
    args = model.prepare_train(RawArgs(json={"data": str(data), "epochs": 15})).args
    result = model.train(args, ctx)

    assert result["classes"] == ["digit-3", "digit-8"]
    assert result["images"] == 80
    assert result["validation_accuracy"] > 0.8
    job = store.get(ctx.job_id)
    assert job.progress == 1.0
    series = store.metrics(ctx.job_id)
    assert [m.step for m in series if m.name == "loss"] == list(range(1, 16))
    assert {m.name for m in series} == {"loss", "accuracy"}
    artifacts = Path(ctx.artifacts_url)
    assert json.loads((artifacts / "summary.json").read_text())["classes"] == result["classes"]

    # a version published from this job is served with its artifacts in $MODELPORT_MODEL_DIR
    monkeypatch.setenv(MODEL_DIR_ENV, str(artifacts))
    retrained = discovery.load("image-classifier")
    retrained.warm()
    test = make_demo_zip(tmp_path / "test.zip", digits=(8,), per_class=5, offset=100)
    with zipfile.ZipFile(test) as archive:
        archive.extractall(tmp_path / "test")
    for image in sorted((tmp_path / "test" / "digit-8").iterdir()):
        top = predict(retrained, image, top_k=5)
        assert [t["label"] for t in top][:1] == ["digit-8"]
        assert len(top) == 2  # only the classes it was retrained on


def test_training_data_is_read_by_url(tmp_path: Path) -> None:
    data = make_demo_zip(tmp_path / "train.zip", digits=(0, 1), per_class=10)
    ctx, _ = context(tmp_path)
    model = discovery.load("image-classifier")
    args = model.prepare_train(RawArgs(json={"data": data.as_uri(), "epochs": 2})).args
    assert model.train(args, ctx)["images"] == 20


def test_a_zip_needs_two_class_folders_of_images(tmp_path: Path) -> None:
    one_class = tmp_path / "one.zip"
    with zipfile.ZipFile(one_class, "w") as archive:
        archive.writestr("cats/readme.txt", "not an image")
        archive.writestr("__MACOSX/cats/._1.png", b"resource fork")
    with one_class.open("rb") as handle, pytest.raises(ValueError, match="two class folders"):
        read_class_folders(handle)
    with (tmp_path / "x.zip").open("wb+") as handle:
        handle.write(b"not a zip")
        handle.seek(0)
        with pytest.raises(ValueError, match="not a zip"):
            read_class_folders(handle)


def test_class_is_the_images_own_folder(tmp_path: Path) -> None:
    nested = tmp_path / "nested.zip"
    png = (tmp_path / "a.png").as_posix()
    digit_image(np.full(64, 8.0)).save(png)
    with zipfile.ZipFile(nested, "w") as archive:
        for name in ("photos/cats/1.png", "photos/cats/2.PNG", "photos/dogs/1.png"):
            archive.write(png, name)
    with nested.open("rb") as handle:
        images = read_class_folders(handle)
    assert images.classes == ["cats", "dogs"]
    assert images.labels.tolist() == [0, 0, 1]
    assert images.pixels.shape == (3, 64)
    assert np.allclose(images.pixels, 0.5, atol=0.01)


def test_the_shipped_extractor_and_metadata() -> None:
    assert PRETRAINED.stat().st_size < 200_000
    assert load_extractor().size == 32 + 256
    metadata = load_metadata(PROJECT)
    assert "Transfer Learning" in metadata.tasks
    assert metadata.license == "Apache-2.0"
