"""The pipeline composer in a real browser against ``modelport up``: build digits-in-a-scene
(tiny-detector, then image-classifier once per detected object) with the form, check it, try it
on the shipped scene, publish it, and call the published pipeline over HTTP.

Same rules as tests/ui/test_browser.py: skipped when /usr/bin/chromium is missing (failed with
CI=true); the screenshot goes to $SCREENSHOT_DIR (default tests/ui/screenshots).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.settings import Settings
from tests.ui.test_browser import _require_browser, browser, page, shot
from tests.ui.test_browser_platform import start_platform, stop

pytest.importorskip("tiny_detector")

__all__ = ["browser", "page"]  # fixtures, re-exported

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if TYPE_CHECKING := False:
    from playwright.sync_api import Page

SLOW_MS = 90_000  # a step's first call starts its module's worker


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport up`` (auth off) with the bundled examples and pilots published."""
    _require_browser()
    data = tmp_path_factory.mktemp("composer-data")
    published = seed_examples(build_catalog_service(Settings(data_dir=data)))
    assert {"tiny-detector 1.0.0", "image-classifier 1.0.0"} <= set(published)
    proc, base = start_platform(data)
    try:
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(platform: str) -> str:
    """The platform, as tests/ui/test_browser.py's ``browser`` and ``page`` fixtures name it."""
    return platform


def options(page: Page, select: str) -> list[str]:
    """The values a ``<select>`` offers."""
    values: list[str] = page.locator(f"{select} option").evaluate_all(
        "(nodes) => nodes.map((n) => n.value)"
    )
    return values


def test_compose_check_try_publish_and_call_digits_in_a_scene(page: Page, platform: str) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/")
    page.get_by_role("link", name="Pipelines").click()
    expect(page.get_by_role("heading", name="Compose a pipeline")).to_be_visible()
    page.get_by_label("Name").fill("digits-in-a-scene")
    page.get_by_label("Title").fill("Digits in a scene")
    page.get_by_label("Summary").fill("Find each digit, then read it.")

    # step 1: the detector, its image the pipeline's input (a required input's default)
    page.get_by_label("Module").select_option("tiny-detector")
    expect(page.get_by_label("Step id")).to_have_attribute("placeholder", "tiny-detector")
    page.locator("#add-id").fill("detect")
    page.get_by_role("button", name="Add step").click()
    detect = page.get_by_role("heading", name="Step 1: detect")
    expect(detect).to_be_focused(timeout=SLOW_MS)
    expect(page.locator("#compose-status")).to_contain_text("Step detect added")
    expect(page.locator("#s1-in0")).to_have_value("input")  # image ← $input.image
    expect(page.locator("#s1-in0-text")).to_have_value("image")

    # step 2 with the keyboard: the classifier, added by Enter in the id field
    page.locator("#add-module").select_option("image-classifier")
    page.locator("#add-id").fill("classify")
    page.locator("#add-id").press("Enter")
    expect(page.get_by_role("heading", name="Step 2: classify")).to_be_focused(timeout=SLOW_MS)
    # run once: nothing of the detector's answer is a file, so only the plain sources show
    assert options(page, "#s2-in0") == ["none", "input", "literal"]
    page.get_by_label("Run it").select_option("$steps.detect.objects")
    image = options(page, "#s2-in0")
    assert "$item.crop" in image  # base64 PNG fits a file input
    assert "$steps.detect.count" not in image
    assert "$item.box" not in image
    assert "$steps.detect.count" in options(page, "#s2-in1")  # top_k takes an integer
    page.locator("#s2-in0").select_option("$item.crop")
    page.locator("#s2-in1").select_option("literal")
    page.get_by_label("Value of top_k").fill("0")  # the classifier refuses it: below 1

    # each item's result: its box and the classifier's answer; the output: count and all
    page.get_by_label("the item's box").check()
    page.get_by_label("the module's answer").check()
    page.locator("#s2-answer-name").fill("labels")
    page.locator("#s2-answer-name").press("Tab")
    classify = page.locator("#outputs fieldset", has_text="Step classify")
    classify.get_by_label("its whole answer").check()
    page.locator("#outputs").get_by_label("its count").check()

    document = json.loads(page.locator("#document").input_value())
    assert document["steps"] == [
        {"id": "detect", "module": "tiny-detector", "inputs": {"image": "$input.image"}},
        {
            "id": "classify",
            "module": "image-classifier",
            "for_each": "$steps.detect.objects",
            "max_parallel": 4,
            "inputs": {"image": "$item.crop", "top_k": 0},
            "collect": {"box": "$item.box", "labels": "$output"},
        },
    ]
    assert document["output"] == {"classify": "$steps.classify", "count": "$steps.detect.count"}
    assert document["metadata"] == {
        "title": "Digits in a scene",
        "summary": "Find each digit, then read it.",
    }

    # check: the refused literal is named next to its row, then fixed
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-result")).to_be_focused(timeout=SLOW_MS)
    expect(page.locator("#check-result")).to_contain_text("steps[1].inputs.top_k")
    expect(page.locator("#s2-in1-err")).to_contain_text("0 is not valid")
    expect(page.locator("#s2-in1")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Value of top_k").fill("1")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-result")).to_contain_text("ok", timeout=SLOW_MS)
    expect(page.locator("#check-result")).to_contain_text("image — a file (required)")

    # try it: what is not an image fails at the detector, and the answer says so
    page.locator("#try-form input[type=file]").set_input_files(
        {"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello"}
    )
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#try-result")).to_contain_text(
        "Step detect failed (HTTP 422)", timeout=SLOW_MS
    )
    expect(page.locator("#try-result")).to_be_focused()

    # then on the shipped scene (digits 3 1 4)
    scene = resources.files("tiny_detector").joinpath("scene.png").read_bytes()
    page.locator("#try-form input[type=file]").set_input_files(
        {"name": "scene.png", "mimeType": "image/png", "buffer": scene}
    )
    page.get_by_role("button", name="Try it").click()
    answer = page.locator("#try-answer")
    expect(answer).to_be_visible(timeout=SLOW_MS)
    tried = json.loads(answer.inner_text())
    assert tried["count"] == 3
    assert [o["labels"][0]["label"] for o in tried["classify"]] == ["digit-3", "digit-1", "digit-4"]
    expect(page.locator("table.timings")).to_contain_text("image-classifier 1.0.0")
    expect(page.locator("#try-result")).to_be_focused()

    # publish, then call it like any module
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#publish-result")).to_contain_text(
        "Published digits-in-a-scene 1.0.0", timeout=SLOW_MS
    )
    link = page.locator("#published-link")
    assert link.get_attribute("href") == "/dashboard/modules/digits-in-a-scene"
    shot(page, "composer-digits-in-a-scene")

    called = httpx.post(
        f"{platform}/v2/models/digits-in-a-scene/predict/",
        files={"image": ("scene.png", scene, "image/png")},
        timeout=120,
    )
    assert called.status_code == 200, called.text
    digits = [o["labels"][0]["label"] for o in called.json()["classify"]]
    assert digits == ["digit-3", "digit-1", "digit-4"]
    assert called.json()["classify"][0]["box"] == tried["classify"][0]["box"]


FILE = {"type": "string", "format": "binary"}
BASE64 = {"type": "string", "contentEncoding": "base64"}
WORD = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
PAIRS = [  # (source, target): the composer offers a source only where fits() allows it
    ({}, FILE),
    (FILE, {}),
    (FILE, FILE),
    (BASE64, FILE),
    ({"type": "string", "format": "byte"}, FILE),
    ({"type": "string"}, FILE),
    ({"type": "integer"}, FILE),
    (FILE, {"type": "string"}),
    ({"type": "integer"}, {"type": "number"}),
    ({"type": "number"}, {"type": "integer"}),
    (
        {"type": "array", "items": {"type": "integer"}},
        {"type": "array", "items": {"type": "number"}},
    ),
    (
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "integer"}},
    ),
    ({"type": "array", "items": WORD}, {"type": "integer"}),
    (WORD, WORD),
    ({"type": "object", "properties": {"other": {"type": "string"}}}, WORD),
    ({"type": "object"}, WORD),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, {"type": "number"}),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"type": "number"}),
    ({"type": "string"}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ({"type": ["integer", "null"]}, {"type": "integer"}),
    ({"type": "string", "enum": ["a", "b"]}, {"type": "string", "enum": ["a"]}),
    ({"type": "string", "enum": ["a"]}, {"type": "string", "enum": ["a", "b"]}),
    ({"allOf": [{"type": "string"}]}, {"type": "integer"}),
]


def test_the_composer_fits_types_as_the_server_does(page: Page) -> None:
    from modelport.pipelines.interfaces import fits

    page.goto("/dashboard/pipelines/new")
    in_browser = page.evaluate(
        "(pairs) => pairs.map(([s, t]) => window.mpSchema.fits(s, t) === null)", PAIRS
    )
    assert in_browser == [fits(source, target) is None for source, target in PAIRS]
