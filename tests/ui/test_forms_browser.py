"""Forms and results people read, in a real browser against ``modelport up``.

A stream-anomaly batch of a few hundred records reads as its summary first, then a sortable
table with the anomalies marked; a try-it form starts from the schema's examples, labels its
fields from their titles, gives multi-line text a textarea and filters file pickers by the
declared media types; a 422 shows every field's message at once (and a summary on top); a train
argument taking data offers "upload a file", "choose from my data" and the demo data in one
control. Screenshots at 1280 and 390 px go to $SCREENSHOT_DIR (default tests/ui/screenshots),
prefixed ``forms-``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.ui.browsing import DESKTOP, PHONE, browser, page
from tests.ui.catalog_seed import metadata
from tests.ui.test_browser import _require_browser, png, shot
from tests.ui.test_browser_platform import seed_platform, start_platform, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser", "page"]  # fixtures, re-exported (tests.ui.browsing)

if TYPE_CHECKING := False:
    from playwright.sync_api import Locator, Page

#: how many records the stream-anomaly batch has
BATCH = 300
#: the cold start of a worker (the first call of a module) can take a while on a busy machine
COLD_MS = 60_000


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport up`` over the bundled examples, the fixture modules and ``showcase``."""
    _require_browser()
    data = tmp_path_factory.mktemp("forms-platform")
    seed_platform(data)
    build_catalog_service(Settings(data_dir=data)).registry.publish(
        "showcase",
        "1.0.0",
        metadata("Showcase", "Forms and results for the dashboard's tests.", tasks=["Regression"]),
        load_spec="mp_fixtures.showcase:Showcase",
        package="mp_fixtures",
    )
    proc, base = start_platform(data)
    try:
        yield base
    finally:
        stop(proc)


def traffic(tmp_path: Path, n: int) -> str:
    """``n`` records of synthetic traffic as NDJSON, made the way the walkthrough makes them."""
    dest = tmp_path / "traffic.ndjson"
    subprocess.run(
        [sys.executable, "-m", "stream_anomaly.traffic", str(dest), "--n", str(n), "--seed", "3"],
        check=True,
        capture_output=True,
    )
    return dest.read_text()


def column(page: Page, index: int) -> list[str]:
    cells = page.locator(f".result-table tbody tr > :nth-child({index + 1})")
    # a marked row's first cell starts with "⚠" and "anomaly:" (for screen readers)
    return [re.sub(r"^⚠?\s*(anomaly:)?\s*", "", text.strip()) for text in cells.all_inner_texts()]


def test_a_batch_reads_as_its_summary_then_a_sortable_table(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/stream-anomaly/try")
    records = page.get_by_label(re.compile(r"^records"))
    expect(records).to_be_visible(timeout=COLD_MS)
    assert records.evaluate("node => node.tagName") == "TEXTAREA"  # "NDJSON lines": multi-line
    # pre-filled from the schema's examples: one record is ready to send
    expect(page.get_by_label(re.compile(r"^port"))).to_have_value("443")
    expect(page.get_by_label(re.compile(r"^protocol"))).to_have_value("tcp")
    page.get_by_role("button", name="Clear the form").click()
    expect(page.get_by_label(re.compile(r"^port"))).to_have_value("")
    records.fill(traffic(tmp_path, BATCH))
    page.get_by_label(re.compile(r"^learn")).uncheck()
    page.get_by_role("button", name="Run prediction").click()

    answered = page.locator(".answered")
    expect(answered).to_contain_text("Answered by stream-anomaly 1.0.0", timeout=COLD_MS)
    summary = page.locator(".result-summary")
    expect(summary).to_contain_text("records")
    expect(summary.locator("div", has_text="records").locator("dd").first).to_have_text(str(BATCH))
    anomalies = int(
        summary.locator("div", has=page.locator("dt", has_text=re.compile("^anomalies$")))
        .locator("dd")
        .inner_text()
    )
    assert 0 < anomalies < BATCH
    rows = page.locator(".result-table tbody tr")
    expect(rows).to_have_count(BATCH)
    expect(page.locator(".result-table tbody tr.anomaly")).to_have_count(anomalies)
    expect(page.locator(".records figcaption")).to_contain_text(f"{anomalies} marked anomaly")
    # the summary comes first, the raw JSON last and closed
    order = page.evaluate(
        """() => [".result-summary", ".records", "details.json"].map(
            (s) => document.querySelector(s).getBoundingClientRect().top)"""
    )
    assert order == sorted(order), order
    expect(page.locator("details.json")).not_to_have_attribute("open", "")

    headers = [h.strip() for h in page.locator(".result-table thead th").all_inner_texts()]
    score = headers.index("score")
    page.get_by_role("button", name="score").click()
    expect(page.locator(".result-table thead th").nth(score)).to_have_attribute(
        "aria-sort", "ascending"
    )
    ascending = [float(v) for v in column(page, score)]
    assert ascending == sorted(ascending)
    assert ascending[0] < ascending[-1]
    page.get_by_role("button", name="score").click()
    expect(page.locator(".result-table thead th").nth(score)).to_have_attribute(
        "aria-sort", "descending"
    )
    descending = [float(v) for v in column(page, score)]
    assert descending == sorted(descending, reverse=True)
    # the highest scores are the anomalies: the first rows are marked (text, not only colour)
    expect(rows.first).to_have_class(re.compile(r"\banomaly\b"))
    expect(rows.first).to_contain_text("⚠")
    ids = [int(v) for v in column(page, headers.index("id"))]
    page.get_by_role("button", name="id").click()
    assert [int(v) for v in column(page, headers.index("id"))] == sorted(ids)  # numbers, not text

    shot(page, "forms-batch-table")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, f"the result page is {height} px high"

    page.set_viewport_size(PHONE)
    box = page.locator(".table-box")
    widths = box.evaluate(
        "b => [b.scrollWidth, b.clientWidth, document.documentElement.scrollWidth]"
    )
    assert widths[0] > widths[1], "the table scrolls sideways inside its box"
    assert widths[2] <= PHONE["width"], f"the page itself is {widths[2]} px wide"
    page.locator(".result-summary").scroll_into_view_if_needed()
    shot(page, "forms-batch-table-phone")


def test_prefilled_form_titles_textarea_accept_and_inline_plot(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/showcase/try")
    photo = page.get_by_label("Photo of the site (photo) (required)")
    expect(photo).to_be_visible(timeout=COLD_MS)
    accept = photo.get_attribute("accept") or ""
    assert set(accept.split(",")) >= {"image/png", "image/jpeg", ".png", ".jpg"}, accept
    expect(page.locator("#hint-photo")).to_contain_text("A PNG or JPEG photo")
    expect(page.locator("#hint-photo")).to_contain_text("accepts image/png, image/jpeg")
    notes = page.get_by_label(re.compile(r"^notes"))
    assert notes.evaluate("node => node.tagName") == "TEXTAREA"
    expect(notes).to_have_value("3.5\n9.25\n1.0")
    expect(page.get_by_label(re.compile(r"^Alarm threshold \(threshold\)"))).to_have_value("4")
    expect(page.get_by_label(re.compile(r"^site"))).to_have_value("alpha")
    shot(page, "forms-prefilled")

    image = tmp_path / "site.png"
    image.write_bytes(png())
    photo.set_input_files(str(image))
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator(".answered")).to_contain_text("Answered by showcase 1.0.0", timeout=COLD_MS)
    expect(page.locator(".result-table tbody tr")).to_have_count(3)
    expect(page.locator(".result-table tbody tr.anomaly")).to_have_count(1)  # 9.25 > 4
    trend = page.locator('#result svg.chart[data-metric="trend"]')  # a list of numbers: a plot
    expect(trend).to_have_attribute("data-points", "3")
    plot = page.locator(".result-figure img")
    expect(plot).to_have_attribute("alt", "plot (image)")
    assert plot.evaluate("img => img.complete && img.naturalWidth") == 1
    page.set_viewport_size(PHONE)
    shot(page, "forms-prefilled-result-phone")


def test_every_field_error_at_once(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/showcase/try")
    threshold = page.get_by_label(re.compile(r"^Alarm threshold"))
    expect(threshold).to_be_visible(timeout=COLD_MS)
    threshold.fill("500")
    page.get_by_label(re.compile(r"^site")).fill("a")
    page.get_by_role("button", name="Run prediction").click()  # and no photo

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible(timeout=COLD_MS)
    expect(summary.get_by_role("heading")).to_have_text("3 problems to fix")
    for name, text in [("photo", "required"), ("threshold", "100"), ("site", "2 characters")]:
        expect(page.locator(f"#err-{name}")).to_contain_text(text)
        control = page.locator(f"#arg-{name}")
        expect(control).to_have_attribute("aria-invalid", "true")
        described = (control.get_attribute("aria-describedby") or "").split()
        assert f"err-{name}" in described
        expect(summary.get_by_role("link", name=re.compile(f"^{name}:"))).to_be_visible()
    expect(page.locator("#arg-notes")).not_to_have_attribute("aria-invalid", "true")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("^site:")).click()
    expect(page.locator("#arg-site")).to_be_focused()
    shot(page, "forms-errors")
    page.set_viewport_size(PHONE)
    shot(page, "forms-errors-phone")

    # fixed: the messages go away
    page.set_viewport_size(DESKTOP)
    threshold.fill("50")
    page.get_by_label(re.compile(r"^site")).fill("beta")
    page.get_by_label(re.compile(r"^Photo")).set_input_files(
        files=[{"name": "p.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator(".answered")).to_be_visible(timeout=COLD_MS)
    expect(summary).to_be_hidden()
    expect(page.locator("#err-site")).to_be_empty()


def test_train_data_control_demo_and_my_data(page: Page, platform: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/showcase/train")
    group = page.get_by_role("radiogroup", name=re.compile("^data"))
    expect(group).to_be_visible(timeout=COLD_MS)
    expect(group.get_by_role("radio")).to_have_count(3)
    expect(
        data_box(page).get_by_label("Demo data (demo)")
    ).to_be_checked()  # the form works as it is
    data_box(page).get_by_label("Upload a file").check()
    upload = data_box(page).get_by_label("File to upload")
    expect(upload).to_be_visible()
    assert set((upload.get_attribute("accept") or "").split(",")) == {"application/zip", ".zip"}
    expect(data_box(page).get_by_label("Your file")).to_be_hidden()
    data_box(page).get_by_label("Choose from my data").check()
    expect(data_box(page).get_by_label("Your file")).to_be_visible()
    expect(upload).to_be_hidden()
    # a File argument of train() is a data control too (no demo data: two choices)
    labels = page.get_by_role("radiogroup", name=re.compile("^labels"))
    expect(labels.get_by_role("radio")).to_have_count(2)
    labels.get_by_role("radio", name="Upload a file").check()
    accept = page.locator("#arg-labels-file").get_attribute("accept") or ""
    assert set(accept.split(",")) == {"text/csv", ".csv"}
    labels.get_by_role("radio", name="Choose from my data").check()

    # nothing chosen: the message is at the control, with the other fields' messages
    page.get_by_label(re.compile(r"^epochs")).fill("50")
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#err-data")).to_contain_text("Choose one of your files")
    expect(page.locator("#arg-data")).to_have_attribute("aria-invalid", "true")
    data_box(page).get_by_label("Demo data (demo)").check()
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#err-epochs")).to_contain_text("10")  # the server's 422, at its field
    expect(page.locator(".error-summary")).to_contain_text("1 problem to fix")
    page.get_by_label(re.compile(r"^epochs")).fill("2")
    with page.expect_request(re.compile(r"/jobs$")) as sent:
        page.get_by_role("button", name="Start training").click()
    assert json.loads(sent.value.post_data or "{}")["args"] == {"data": "demo", "epochs": 2}
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    expect(page.locator("#job-status")).to_be_visible()

    if not upload_api_exists():
        return
    page.goto("/dashboard/modules/showcase/train")
    data_box(page).get_by_label("Upload a file").check(timeout=COLD_MS)
    archive = tmp_path / "readings.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    data_box(page).get_by_label("File to upload").set_input_files(str(archive))
    status = page.locator("#arg-data-upload-status")
    expect(status).to_contain_text("Uploaded readings.zip")
    expect(page.locator("#arg-data-progress")).to_have_js_property("value", 1)
    shot(page, "forms-train-upload")
    page.set_viewport_size(PHONE)
    shot(page, "forms-train-upload-phone")
    page.set_viewport_size(DESKTOP)
    with page.expect_request(re.compile(r"/jobs$")) as sent:
        page.get_by_role("button", name="Start training").click()
    assert json.loads(sent.value.post_data or "{}")["args"]["data"] == "data://readings.zip"
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=COLD_MS)
    page.goto("/dashboard/modules/showcase/train")
    data_box(page).get_by_label("Choose from my data").check(timeout=COLD_MS)
    expect(data_box(page).get_by_label("Your file")).to_contain_text("readings.zip (22 bytes)")


def upload_api_exists() -> bool:
    return (Path(__file__).parents[2] / "src" / "modelport" / "api" / "data.py").exists()


def test_a_large_upload_goes_in_chunks_and_resumes(
    page: Page, platform: str, tmp_path: Path
) -> None:
    """9 MiB in 8 MiB chunks; the first chunk already on the server (an upload cut short): the
    browser asks where it stands, and sends only the rest."""
    from playwright.sync_api import expect

    if not upload_api_exists():
        pytest.skip("the data area's API is not there yet")
    chunk = 8 * 1024 * 1024
    content = bytes(range(256)) * (chunk // 256) + b"the rest" * 128
    total = len(content)
    first = httpx.put(
        f"{platform}/data/big.zip",
        content=content[:chunk],
        headers={"Content-Range": f"bytes 0-{chunk - 1}/{total}"},
        timeout=60,
    )
    assert first.status_code == 202, first.text
    assert first.json()["complete"] is False

    puts: list[tuple[str | None, int]] = []
    page.on(
        "response",
        lambda r: (
            puts.append((r.request.headers.get("content-range"), r.status))
            if r.request.method == "PUT"
            else None
        ),
    )
    page.goto("/dashboard/modules/showcase/train")
    data_box(page).get_by_label("Upload a file").check(timeout=COLD_MS)
    big = tmp_path / "big.zip"
    big.write_bytes(content)
    data_box(page).get_by_label("File to upload").set_input_files(str(big))
    expect(page.locator("#arg-data-upload-status")).to_contain_text(
        "Uploaded big.zip", timeout=60_000
    )
    assert puts == [
        (f"bytes */{total}", 202),  # where does it stand?
        (f"bytes {chunk}-{total - 1}/{total}", 201),  # the rest only
    ]
    listing = httpx.get(f"{platform}/data/").json()
    assert {"name": "big.zip", "size": total} in [
        {"name": f["name"], "size": f["size"]} for f in listing["files"]
    ]
    assert httpx.get(f"{platform}/data/big.zip", timeout=60).content == content


def data_box(page: Page, name: str = "data") -> Locator:
    """The data control of train argument ``name``."""
    return page.locator(f'fieldset[data-arg="{name}"]')
