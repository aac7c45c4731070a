"""Detect → classify: the tiny-detector and image-classifier pilots, chained by a published
pipeline on the platform (each in its own worker), answer the digit of every object."""

from __future__ import annotations

import io
from importlib import resources

import httpx
import pytest
from PIL import Image

pytest.importorskip("tiny_detector")
from tiny_detector.scene import make_scene

pytestmark = pytest.mark.slow

DIGITS = {
    "name": "digits-in-a-scene",
    "version": "1.0.0",
    "metadata": {"title": "Digits in a scene", "summary": "Find each digit, then read it."},
    "steps": [
        {
            "id": "detect",
            "module": "tiny-detector",
            "inputs": {"image": "$input.image", "min_area": 20},
        },
        {
            "id": "classify",
            "module": "image-classifier",
            "for_each": "$steps.detect.objects",
            "max_parallel": 4,
            "inputs": {"image": "$item.crop", "top_k": 1},
            "collect": {"box": "$item.box", "digit": "$output.0.label"},
        },
    ],
    "output": {"count": "$steps.detect.count", "objects": "$steps.classify"},
}


def png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


async def test_each_detected_object_gets_its_class(platform: httpx.AsyncClient) -> None:
    published = await platform.post("/pipelines", json=DIGITS)
    assert published.status_code == 201, published.text
    url = "/v2/models/digits-in-a-scene/predict/"

    shipped = resources.files("tiny_detector").joinpath("scene.png").read_bytes()  # 3 1 4
    answer = await platform.post(url, files={"image": ("scene.png", shipped, "image/png")})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["count"] == 3
    assert [o["digit"] for o in found["objects"]] == ["digit-3", "digit-1", "digit-4"]
    boxes = [o["box"] for o in found["objects"]]
    assert all(len(b) == 4 for b in boxes)
    assert boxes == sorted(boxes)
    timing = answer.headers["server-timing"]
    assert "detect;dur=" in timing
    assert 'desc="image-classifier 1.0.0"' in timing

    scene = png(make_scene([7, 0, 2, 5, 9, 6], seed=11))
    answer = await platform.post(url, files={"image": ("six.png", scene, "image/png")})
    assert answer.status_code == 200, answer.text
    digits = [o["digit"] for o in answer.json()["objects"]]
    assert len(digits) == 6
    right = sum(d == f"digit-{n}" for d, n in zip(digits, [7, 0, 2, 5, 9, 6], strict=True))
    assert right >= 5, digits

    # nothing detected: an empty fan-out
    blank = png(Image.new("L", (64, 64), 255))
    answer = await platform.post(url, files={"image": ("blank.png", blank, "image/png")})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"count": 0, "objects": []}

    # the detector refuses what is not an image: the pipeline says which step did
    text = await platform.post(url, files={"image": ("a.txt", b"hello", "text/plain")})
    assert text.status_code == 422
    assert text.json()["step"] == "detect"
    assert "image" in text.json()["detail"]
