"""The tiny detector through the real contract: scenes of digits in, boxes and crops out, and the
crops read right by the image-classifier pilot (the detect → classify pipeline)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from image_classifier.training import split
from modelport.cli.serve import _serving_app
from modelport.contract import discovery
from modelport.contract.base import RawArgs, ServedModel
from modelport.contract.files import UploadedFile
from modelport.errors import InvalidInput
from modelport.settings import Settings
from tiny_detector.detect import crop_image, detect, grayscale, label
from tiny_detector.scene import (
    EXAMPLE_DIGITS,
    EXAMPLE_SCENE,
    EXAMPLE_SEED,
    layout,
    main,
    make_scene,
)

PREDICT = "/v2/models/{}/predict/"


def predict(model: ServedModel, image: Path, **args: object) -> Any:
    """Call predict as the server does: an upload plus query arguments."""
    raw = RawArgs(json=dict(args))
    raw.add("image", UploadedFile("image", str(image), "image/png", image.name))
    return json.loads(model.predict(model.prepare(raw)).content)


@pytest.fixture(scope="module")
def detector() -> ServedModel:
    model = discovery.load("tiny-detector")
    model.warm()
    return model


def held_out_digits() -> np.ndarray:
    """The rows of scikit-learn's digits the classifier pilot's pretrained head never saw: the
    validation split of ``image_classifier.pretrain`` (fit_head's split, seed 0, 20 %)."""
    target = load_digits().target.astype(np.int64)
    _, valid = split(target, 0.2, np.random.default_rng(0))
    return valid


@pytest.mark.parametrize(
    ("digits", "seed", "dark"),
    [
        ((3, 1, 4), 0, False),
        ((1, 1, 1, 1), 1, False),
        ((0, 9, 8, 7, 6, 5), 2, False),
        ((2, 7), 3, True),  # light strokes on a dark ground
        ((5, 0, 2, 8, 4), 4, True),
        ((6,), 5, False),
    ],
)
def test_a_scene_gives_exactly_its_digits_left_to_right(
    detector: ServedModel, tmp_path: Path, digits: tuple[int, ...], seed: int, dark: bool
) -> None:
    image, placed = layout(digits, seed, dark=dark)
    path = tmp_path / "scene.png"
    image.save(path)
    found = predict(detector, path)
    assert found["count"] == len(digits) == len(found["objects"])
    for obj, where in zip(found["objects"], placed, strict=True):
        x0, y0, x1, y1 = obj["box"]
        fx0, fy0, fx1, fy1 = where.box
        # the box is the digit's ink: inside its drawn frame, and as tall as it (digits fill it)
        assert fx0 <= x0 < x1 <= fx1
        assert (y0, y1) == (fy0, fy1)
        assert obj["area"] > 20
        assert 0 < obj["score"] <= 1
        crop = Image.open(io.BytesIO(base64.b64decode(obj["crop"])))
        assert crop.format == "PNG"
        assert crop.width == crop.height == y1 - y0
    if dark:  # the crops are dark ink on white all the same: those of the light scene
        light, _ = layout(digits, seed)
        light.save(path)
        assert [o["crop"] for o in predict(detector, path)["objects"]] == [
            o["crop"] for o in found["objects"]
        ]
    lefts = [obj["box"][0] for obj in found["objects"]]
    assert lefts == sorted(lefts)


def test_the_shipped_scene_is_what_the_scene_command_makes(tmp_path: Path) -> None:
    main([*map(str, EXAMPLE_DIGITS), "--seed", str(EXAMPLE_SEED), "--out", str(tmp_path / "s.png")])
    assert (tmp_path / "s.png").read_bytes() == EXAMPLE_SCENE.read_bytes()
    assert EXAMPLE_SCENE.stat().st_size < 20_000
    again = make_scene(EXAMPLE_DIGITS, EXAMPLE_SEED)
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(EXAMPLE_SCENE)))


def test_min_area_drops_noise_specks(detector: ServedModel, tmp_path: Path) -> None:
    make_scene((4, 2, 9), seed=7, specks=8).save(tmp_path / "specks.png")
    everything = predict(detector, tmp_path / "specks.png", min_area=1)
    assert everything["count"] > 3
    assert any(obj["area"] <= 4 for obj in everything["objects"])
    digits = predict(detector, tmp_path / "specks.png", min_area=20)
    assert digits["count"] == 3
    assert all(obj["area"] >= 20 for obj in digits["objects"])


def test_max_objects_keeps_the_leftmost(detector: ServedModel, tmp_path: Path) -> None:
    make_scene((1, 2, 3, 4, 5), seed=8).save(tmp_path / "five.png")
    every = predict(detector, tmp_path / "five.png")["objects"]
    two = predict(detector, tmp_path / "five.png", max_objects=2)
    assert two["count"] == 2
    assert two["objects"] == every[:2]


def test_a_blank_image_has_no_objects(detector: ServedModel, tmp_path: Path) -> None:
    Image.new("L", (64, 48), 200).save(tmp_path / "blank.png")
    assert predict(detector, tmp_path / "blank.png") == {"count": 0, "objects": []}


def test_bad_arguments_and_a_file_that_is_not_an_image_are_refused_by_field(
    detector: ServedModel, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput) as caught:
        detector.prepare(RawArgs(json={"min_area": 0, "max_objects": 101}))
    assert set(caught.value.errors) == {"image", "min_area", "max_objects"}
    (tmp_path / "notes.txt").write_text("not an image at all\n")
    with pytest.raises(InvalidInput) as refused:
        predict(detector, tmp_path / "notes.txt")
    assert refused.value.errors == {
        "image": [
            "'notes.txt' is not an image. Expected an image: PNG, JPEG, GIF, BMP, TIFF or WebP."
        ]
    }


def test_labelling_joins_touching_and_near_ink_and_keeps_apart_the_rest() -> None:
    mask = np.zeros((6, 12), dtype=bool)
    mask[0, 0:2] = True
    mask[1, 2] = True  # diagonal neighbour: one component
    mask[4, 0] = True  # 3 rows down: its own with link 1 and 2
    mask[0, 5] = mask[0, 7] = True  # a one-pixel gap: joined with link 2 only
    mask[5, 11] = True
    labels, count = label(mask, link=1)
    assert count == 5
    assert labels[0, 0] == labels[1, 2] != labels[4, 0]
    labels, count = label(mask, link=2)
    assert count == 4
    assert labels[0, 5] == labels[0, 7]
    assert label(np.zeros((3, 3), dtype=bool), link=2)[1] == 0


def test_crops_are_classified_right_by_the_image_classifier(
    detector: ServedModel, tmp_path: Path
) -> None:
    """The pipeline: every held-out digit (359), drawn in scenes of six, detected, and its crop
    sent to the image-classifier pilot."""
    classifier = discovery.load("image-classifier")
    classifier.warm()
    held_out = np.random.default_rng(11).permutation(held_out_digits())
    target = load_digits().target
    right = total = 0
    for n, start in enumerate(range(0, len(held_out), 6)):
        rows = held_out[start : start + 6]
        digits = [int(target[i]) for i in rows]
        image, placed = layout(digits, seed=n, pool=rows)
        assert sorted(p.index for p in placed) == sorted(rows)  # each digit drawn once
        image.save(tmp_path / "scene.png")
        found = predict(detector, tmp_path / "scene.png")
        assert found["count"] == len(digits)
        for obj, digit in zip(found["objects"], digits, strict=True):
            crop = tmp_path / "crop.png"
            crop.write_bytes(base64.b64decode(obj["crop"]))
            [top] = predict(classifier, crop, top_k=1)
            right += top["label"] == f"digit-{digit}"
            total += 1
    assert total == len(held_out) >= 30
    assert right / total >= 0.9, f"{right}/{total} crops classified right"


def test_numpy_detection_on_a_dark_scene_matches_the_light_one() -> None:
    light = make_scene((7, 3), seed=9)
    dark = make_scene((7, 3), seed=9, dark=True)
    found_light = detect(grayscale(light), min_area=20)
    found_dark = detect(grayscale(dark), min_area=20)
    assert found_light.light_background
    assert not found_dark.light_background
    assert [o.box for o in found_light.objects] == [o.box for o in found_dark.objects]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """What ``modelport serve tiny-detector image-classifier`` serves, over HTTP in-process."""
    app, names = _serving_app(Settings(data_dir=tmp_path), ["tiny-detector", "image-classifier"])
    assert names == ["tiny-detector", "image-classifier"]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_served_schema_declares_the_crop_a_base64_png_and_the_pipeline_runs(
    server: httpx.AsyncClient,
) -> None:
    spec = (await server.get("/openapi.json")).json()
    ok = spec["paths"][PREDICT.format("tiny-detector")]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    schemas = spec["components"]["schemas"]
    output = schemas[ref.rsplit("/", 1)[1]]
    assert set(output["required"]) == {"count", "objects"}
    item = output["properties"]["objects"]["items"]
    obj = schemas[item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item
    assert obj["properties"]["crop"]["type"] == "string"
    assert obj["properties"]["crop"]["contentEncoding"] == "base64"
    assert obj["properties"]["crop"]["contentMediaType"] == "image/png"
    assert obj["properties"]["box"]["items"] == {"type": "integer"}

    scene = EXAMPLE_SCENE.read_bytes()
    answer = await server.post(
        PREDICT.format("tiny-detector"),
        params={"min_area": 20, "max_objects": 10},
        files={"image": ("scene.png", scene, "image/png")},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["count"] == len(EXAMPLE_DIGITS)
    labels = []
    for item in found["objects"]:
        crop = base64.b64decode(item["crop"])
        top = await server.post(
            PREDICT.format("image-classifier"),
            params={"top_k": 1},
            files={"image": ("crop.png", crop, "image/png")},
        )
        assert top.status_code == 200, top.text
        labels.append(top.json()[0]["label"])
    assert labels == [f"digit-{d}" for d in EXAMPLE_DIGITS]

    refused = await server.post(
        PREDICT.format("tiny-detector"), files={"image": ("notes.txt", b"hello\n", "text/plain")}
    )
    assert refused.status_code == 422
    assert list(refused.json()) == ["image"]
    assert refused.json()["image"][0].startswith("'notes.txt' is not an image.")


@pytest.mark.parametrize(("width", "height"), [(30, 32), (7, 33), (33, 7), (1, 1), (31, 29)])
def test_a_crop_is_square_and_holds_its_whole_object(width: int, height: int) -> None:
    gray = np.ones((60, 60))
    gray[5 : 5 + height, 5 : 5 + width] = 0.0
    found = detect(gray, min_area=1)
    [obj] = found.objects
    assert obj.box == (5, 5, 5 + width, 5 + height)
    assert obj.area == width * height
    for margin in (0.0, 0.1):
        crop = np.asarray(crop_image(found, obj, margin))
        assert crop.shape[0] == crop.shape[1] >= max(width, height)
        assert (crop == 0).sum() == width * height
