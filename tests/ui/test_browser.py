"""The dashboard in a real browser (Debian's chromium via Playwright) against a live server.

Skipped locally when /usr/bin/chromium is missing; with CI=true a missing browser fails instead.
Screenshots of the main pages go to $SCREENSHOT_DIR (default tests/ui/screenshots).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env
from tests.ui.catalog_seed import seed_catalog

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).parent / "screenshots")
TIMEOUT_MS = 15_000

if TYPE_CHECKING := False:
    from playwright.sync_api import Browser, Page


def _require_browser() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (uv sync)"
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests must run in CI: {reason}")
    pytest.skip(reason)


def png(width: int = 8, height: int = 8) -> bytes:
    """A small valid RGB PNG (a red square)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport serve --catalog`` on 127.0.0.1 with the fixture models and a seeded catalog."""
    _require_browser()
    data = tmp_path_factory.mktemp("ui-data")
    seed_catalog(build_catalog_service(Settings(data_dir=data)))
    port = free_port()
    env = subprocess_env(
        MODELPORT_DATA_DIR=str(data),
        MODELPORT_TRAINING_IDLE_PRIORITY="false",
        MODELPORT_TRAINING_NICE="0",
        MODELPORT_CANCEL_GRACE="0.5",
    )
    command = [sys.executable, "-m", "modelport", "serve", "classifier", "trainer", "echo"]
    proc = subprocess.Popen(
        [*command, "--catalog", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # a long page on a busy machine can take a while to capture
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, timeout=60_000)


def test_search_filter_and_open_a_module(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/")
    count = page.locator("#result-count")
    expect(count).to_contain_text("16 modules match")
    shot(page, "catalog")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()  # keyboard users skip the navigation

    page.get_by_label("Search modules").press_sequentially("animal", delay=30)
    expect(count).to_have_text("1 module matches.")
    expect(page).to_have_url(re.compile(r"q=animal"))
    page.get_by_label("Search modules").fill("")
    expect(count).to_contain_text("16 modules match")

    page.get_by_label(re.compile(r"^Computer Vision")).check()
    expect(count).to_have_text("1 module matches.")
    expect(page).to_have_url(re.compile(r"tasks=Computer(\+|%20)Vision"))
    expect(page.locator(".card")).to_have_count(1)
    page.get_by_label(re.compile(r"^Computer Vision")).uncheck()
    page.get_by_label(re.compile(r"^Time Series")).check()
    expect(count).to_have_text("12 modules match.")

    page.get_by_label("Search modules").fill("zzznothing")
    expect(page.locator(".empty-state")).to_contain_text("No modules match")

    page.goto("/dashboard/?tasks=Computer+Vision")
    page.get_by_role("link", name="Animal photo classifier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Animal photo classifier")
    expect(page.locator("#versions")).to_contain_text("1.0.0")
    expect(page.locator('[data-snippets][data-state="ready"]')).to_have_count(1)
    expect(page.locator('[data-snippet="curl"]')).to_contain_text("image=@image.bin")
    expect(page.locator('[data-snippet="python"]')).to_contain_text('client.predict("classifier"')
    shot(page, "module")


def test_predict_with_an_uploaded_image(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    image = tmp_path / "cat.png"
    image.write_bytes(png())
    page.goto("/dashboard/modules/classifier/try")
    upload = page.get_by_label("image (required)")
    expect(upload).to_be_visible()
    expect(page.get_by_label("top_k")).to_have_value("3")
    expect(page.get_by_label("mode")).to_have_value("fast")
    expect(page.get_by_label("top_k")).to_have_attribute("max", "4")

    upload.set_input_files(str(image))
    expect(page.get_by_alt_text("Preview of cat.png")).to_be_visible()
    page.get_by_label("top_k").fill("9")
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator("#err-top_k")).to_contain_text("4")  # the API's message, at its field
    expect(page.get_by_label("top_k")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("top_k").fill("3")
    page.get_by_label("mode").select_option("exact")
    page.get_by_role("button", name="Run prediction").click()
    bars = page.locator(".bars li")
    expect(bars).to_have_count(3)
    expect(bars.first).to_contain_text("cat")
    expect(bars.first).to_contain_text("%")
    expect(page.locator("#err-top_k")).to_be_empty()
    shot(page, "try-it")


def test_form_from_a_richer_signature_and_a_model_error(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/echo/try")
    page.get_by_label("text (required)").fill("hi")
    page.get_by_label("times").fill("2")
    expect(page.get_by_label("colour")).to_have_value("red")  # an enum, by reference
    page.get_by_label("colour").select_option("green")
    page.get_by_label("tags").fill("a\nb")
    page.get_by_role("button", name="Run prediction").click()
    tree = page.locator(".tree")
    expect(tree).to_contain_text('"hihi"')
    expect(tree).to_contain_text('"green"')
    expect(tree).to_contain_text('"b"')

    page.get_by_label("mode").select_option("fail")
    page.get_by_role("button", name="Run prediction").click()
    # an unexpected model error: a short message and the id the server logged it under
    expect(page.locator("#predict-error")).to_contain_text(re.compile(r"error id [0-9a-f]+"))
    expect(page.locator("#result .error-box")).to_contain_text("HTTP 500")


def test_train_follow_publish_and_cancel(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/trainer/train")
    page.get_by_label("epochs").fill("6")
    page.get_by_label("sleep").fill("0.15")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    job_url = page.url
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#job-progress-text")).to_have_text("100%")
    chart = page.locator('svg.chart[data-metric="loss"]')
    expect(chart).to_have_attribute("data-points", "6")
    expect(chart.locator("polyline")).to_have_count(1)
    expect(page.locator("#job-log")).to_contain_text("epoch 6/6")
    expect(page.get_by_role("link", name="weights.json")).to_be_visible()
    shot(page, "job")

    expect(page.get_by_label("New version of trainer")).to_have_value("1.0.1")
    page.get_by_role("button", name="Publish version").click()
    expect(page).to_have_url(re.compile(r"/dashboard/modules/trainer/versions/1\.0\.1$"))
    expect(page.locator("#versions")).to_contain_text("1.0.1")
    expect(page.locator("#versions")).to_contain_text("trained by job")
    expect(page.locator(".lineage")).to_contain_text("version 1.0.0")
    shot(page, "version")

    page.goto("/dashboard/modules/trainer/train")
    page.get_by_label("epochs").fill("200")
    page.get_by_label("sleep").fill("0.5")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    assert page.url != job_url
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=20_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()

    page.goto("/dashboard/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    expect(page.locator("table.jobs")).to_contain_text("cancelled")
    expect(page.locator("table.jobs")).to_contain_text("succeeded")
    shot(page, "jobs")


def test_error_page_and_narrow_screens(page: Page) -> None:
    from playwright.sync_api import expect

    response = page.goto("/dashboard/modules/no-such-module")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not found")
    expect(page.get_by_role("link", name="Back to the catalog")).to_be_visible()
    shot(page, "error")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/dashboard/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the catalog must not scroll sideways on a phone"
    shot(page, "catalog-phone")
