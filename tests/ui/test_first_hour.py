"""A scientist's first hour, in a real browser against a real ``modelport up`` on a fresh data
directory (the bundled examples published at start): open ``/`` and land on the dashboard,
upload a zip of images to "My data", train the image classifier on it from "my data", watch the
job finish, publish it (a bad version first: a field message), predict with the new version;
then each bad input the issue lists gets a message at its field. Screenshots at 1280 and 390 px
go to $SCREENSHOT_DIR (default tests/ui/screenshots), prefixed ``first-hour-``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ui.browsing import DESKTOP, PHONE, browser, page
from tests.ui.test_browser import _require_browser, png, shot
from tests.ui.test_browser_platform import start_platform, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser", "page"]  # fixtures, re-exported (tests.ui.browsing)

if TYPE_CHECKING := False:
    from playwright.sync_api import Page

#: a worker's cold start, or a training, on a busy 2-core machine
SLOW_MS = 120_000


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport up`` as a newcomer starts it: a fresh data directory, the examples seeded."""
    _require_browser()
    proc, base = start_platform(tmp_path_factory.mktemp("first-hour"), seed=True, limit_s=120)
    try:
        yield base
    finally:
        stop(proc)


def both_sizes(page: Page, name: str) -> None:
    """Screenshots at 1280 and 390 px."""
    shot(page, f"first-hour-{name}")
    page.set_viewport_size(PHONE)
    shot(page, f"first-hour-{name}-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page scrolls sideways at 390 px ({width} px)"
    page.set_viewport_size(DESKTOP)


def test_upload_train_publish_predict(page: Page, platform: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from image_classifier.dataset import make_demo_zip

    # a browser at / lands on the dashboard; an API client still gets the DEEPaaS document
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("link", name=re.compile("Image classifier"))).to_be_visible()
    both_sizes(page, "landing")
    assert "versions" in httpx.get(f"{platform}/").json()

    # my data: upload a zip of class folders
    archive = make_demo_zip(tmp_path / "my-digits.zip", digits=(0, 1, 7), per_class=20)
    page.get_by_role("link", name="My data").click()
    expect(page).to_have_url(re.compile(r"/dashboard/data$"))
    page.locator("#data-file").set_input_files(str(archive))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#data-status")).to_contain_text("data://my-digits.zip")
    expect(page.locator("table.data-files")).to_contain_text("my-digits.zip")
    both_sizes(page, "my-data")

    # train the image classifier on it, chosen from "my data"
    page.goto("/dashboard/modules/image-classifier/train")
    box = page.locator('fieldset[data-arg="data"]')
    box.get_by_label("Choose from my data").check(timeout=SLOW_MS)
    mine = box.get_by_label("Your file")
    expect(mine).to_contain_text("my-digits.zip")
    mine.select_option(value="my-digits.zip")
    page.get_by_label(re.compile(r"^epochs")).fill("5")
    both_sizes(page, "train")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=SLOW_MS)
    job_url = page.url
    both_sizes(page, "job")

    # publish: a version that is not one is refused at its field, then a real one
    version = page.get_by_label("New version of image-classifier")
    version.fill("not a version")
    page.get_by_role("button", name="Publish version").click()
    expect(page.locator("#err-version")).to_contain_text("is not a version")
    version.fill("1.1.0")
    page.get_by_role("button", name="Publish version").click()
    expect(page).to_have_url(re.compile(r"/dashboard/modules/image-classifier/versions/1\.1\.0$"))
    page.goto(job_url)
    expect(page.locator(".published-as")).to_contain_text("image-classifier 1.1.0")
    expect(page.locator("#publish-form")).to_have_count(0)  # published once, not again

    # predict with the new version
    page.goto("/dashboard/modules/image-classifier/try?version=1.1.0")
    with zipfile.ZipFile(archive) as opened:
        digit = opened.read("digit-7/0000.png")
    page.locator("#arg-image").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": digit}]
    )
    page.get_by_role("button", name="Run prediction").click()
    answered = page.locator(".answered")
    expect(answered).to_contain_text("image-classifier 1.1.0", timeout=SLOW_MS)
    expect(page.locator("#result")).to_contain_text("digit-7")
    both_sizes(page, "predict")


def test_each_bad_input_gets_a_message_at_its_field(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    # a text file given as an image
    page.goto("/dashboard/modules/image-classifier/try")
    page.locator("#arg-image").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}]
    )
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator("#err-image")).to_contain_text("is not an image", timeout=SLOW_MS)
    expect(page.locator("#arg-image")).to_have_attribute("aria-invalid", "true")
    both_sizes(page, "bad-image")

    # an empty stream-anomaly form: every record field is named at once
    page.goto("/dashboard/modules/stream-anomaly/try")
    page.get_by_role("button", name="Clear the form").click(timeout=SLOW_MS)
    page.get_by_role("button", name="Run prediction").click()
    for field in ("duration", "bytes_in", "packets"):
        expect(page.locator(f"#err-{field}")).to_contain_text("Missing", timeout=SLOW_MS)
    expect(page.locator(".error-summary")).to_be_visible()
    both_sizes(page, "empty-form")

    # a PNG given as an NDJSON batch
    page.get_by_role("button", name="Clear the form").click()
    page.locator("#arg-batch").set_input_files(
        files=[{"name": "plot.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator("#err-batch")).to_contain_text("plot.png", timeout=SLOW_MS)
    expect(page.locator("#err-batch")).to_contain_text("NDJSON")

    # a .txt given as an .npz
    page.goto("/dashboard/modules/sim-postprocess/try")
    page.locator("#arg-file").set_input_files(
        files=[{"name": "run.txt", "mimeType": "text/plain", "buffer": b"time,temperature\n"}]
    )
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator("#err-file")).to_contain_text("run.txt", timeout=SLOW_MS)
    expect(page.locator("#err-file")).to_contain_text("npz")
    both_sizes(page, "bad-npz")
    for message in page.locator(".error").all_inner_texts():
        assert "/dev/shm" not in message
        assert "Traceback" not in message
