"""The module page's rollout controls in a real browser against ``modelport up``: start a canary
with the "Start a rollout" form (a 422 shown next to its field first), set its weight to 100 with
the page's weight control, roll it back, and check over HTTP which version answers each time;
the page's history says who did what.

Same rules as tests/ui/test_browser.py: skipped when /usr/bin/chromium is missing (failed with
CI=true); the screenshot goes to $SCREENSHOT_DIR (default tests/ui/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.ui.catalog_seed import metadata
from tests.ui.test_browser import _require_browser, browser, page, shot
from tests.ui.test_browser_platform import start_platform, stop

__all__ = ["browser", "page"]  # fixtures, re-exported

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if TYPE_CHECKING := False:
    from playwright.sync_api import Locator, Page

MODULE = "echoes"
PREDICT = f"/v2/models/{MODULE}/versions/stable/predict/"
SLOW_MS = 60_000  # the first prediction of a version starts its worker


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport up`` (auth off) with module ``echoes``: 1.0.0 shouts a word, 2.0.0 whispers
    it (the fixture models of tests/fixtures/site, importable by the workers)."""
    _require_browser()
    data = tmp_path_factory.mktemp("rollouts-data")
    catalog = build_catalog_service(Settings(data_dir=data))
    meta = metadata("Echoes", "Shout or whisper a word.")
    for version, spec in (
        ("1.0.0", "mp_fixtures.pipes:Shout"),
        ("2.0.0", "mp_fixtures.pipes:Whisper"),
    ):
        catalog.registry.publish(MODULE, version, meta, load_spec=spec, package="mp_fixtures")
    catalog.engine.dispose()
    proc, base = start_platform(data)
    try:
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(platform: str) -> str:
    """The platform, as tests/ui/test_browser.py's ``browser`` and ``page`` fixtures name it."""
    return platform


def answers(base: str, calls: int = 6) -> set[tuple[str, str]]:
    """(version, answer) of ``calls`` predictions sent to the alias ``stable``."""
    seen = set()
    with httpx.Client(base_url=base, timeout=120) as http:
        for _ in range(calls):
            answer = http.post(PREDICT, json={"word": "Hello"})
            assert answer.status_code == 200, answer.text
            seen.add((answer.headers["x-modelport-model-version"], answer.json()["upper"]))
        rollout = http.get(f"/catalog/modules/{MODULE}/rollouts/stable").json()
    print("rollout:", rollout)  # shown when an assertion on the answers fails
    return seen


def shares(section: Locator) -> dict[str, str]:
    """Role -> share, as the rollout's table shows them."""
    rows = section.locator("table.rollout-versions tbody tr")
    found: dict[str, str] = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        found[row.locator("th").inner_text().strip()] = row.locator("td").nth(1).inner_text()
    return found


def test_start_weigh_and_roll_back_a_rollout_from_the_module_page(
    page: Page, platform: str
) -> None:
    from playwright.sync_api import expect

    page.goto(f"/dashboard/modules/{MODULE}")
    expect(page.locator("[data-rollout]")).to_have_count(0)
    # open "Start a rollout" with the keyboard
    page.locator("#rollout-start > summary").focus()
    page.keyboard.press("Enter")
    form = page.locator("#rollout-start-form")
    expect(form).to_be_visible()
    expect(form.get_by_label("Alias", exact=True)).to_have_value("stable")
    expect(form.get_by_label("Primary version")).to_have_value("2.0.0")  # no alias yet: latest
    expect(form.get_by_label("Canary weight (%)")).to_have_value("10")
    expect(form.get_by_label("Shadow version (optional)")).to_have_value("")

    # a weight of 150, then 'latest' as the alias: the API's 422s, each next to its field (the
    # body is checked before the alias)
    form.get_by_label("Primary version").select_option("1.0.0")
    form.get_by_label("Canary version").select_option("2.0.0")
    weight = form.get_by_label("Canary weight (%)")
    weight.fill("150")
    form.get_by_role("button", name="Start rollout").click()
    expect(form.locator("#rs-err-weight")).to_contain_text("100")
    expect(weight).to_have_attribute("aria-invalid", "true")
    expect(weight).to_be_focused()
    expect(form.locator("#rs-error")).to_contain_text("Check the fields")
    shot(page, "rollout-start-422")
    weight.fill("10")
    alias = form.get_by_label("Alias", exact=True)
    alias.fill("latest")
    form.get_by_role("button", name="Start rollout").click()
    expect(form.locator("#rs-err-alias")).to_contain_text("latest")
    expect(form.locator("#rs-err-weight")).to_have_text("")
    expect(weight).not_to_have_attribute("aria-invalid", "true")
    expect(alias).to_be_focused()
    alias.fill("stable")
    expect(form.get_by_label("Primary version")).to_have_value("1.0.0")  # chosen: kept
    expect(form.get_by_label("Canary version")).to_have_value("2.0.0")

    # a canary at 10 %, submitted with Enter in the weight field
    form.get_by_label("Error-rate margin (%)").fill("20")
    weight.press("Enter")
    section = page.locator('[data-rollout="stable"]')
    expect(section).to_be_visible()
    assert shares(section) == {"primary": "90 %", "canary": "10 %"}
    expect(section).to_contain_text("exceeds the primary's by 20 %")
    assert answers(platform, 3) <= {("1.0.0", "HELLO!"), ("2.0.0", "hello")}

    # blue-green: the page's weight control sends everything to 2.0.0
    section.get_by_label("Canary weight (%)").fill("100")
    section.get_by_role("button", name="Set weight").click()
    expect(section.locator("tbody tr").nth(1)).to_contain_text("100 %", timeout=SLOW_MS)
    assert shares(section) == {"primary": "0 %", "canary": "100 %"}
    assert answers(platform) == {("2.0.0", "hello")}

    # roll back from the page: everything to 1.0.0 again
    section.get_by_role("button", name="Roll back 2.0.0").click()
    expect(section.locator("h4")).to_contain_text("rolled back")
    assert shares(section) == {"primary": "100 %", "canary": "0 %"}
    expect(section).to_contain_text("Why: rolled back from the dashboard")
    assert answers(platform) == {("1.0.0", "HELLO!")}

    # the history: start, weight, rollback, newest first, with who did them
    section.locator("details > summary").click()
    entries = section.locator(".rollout-history li")
    expect(entries).to_have_count(3)
    texts = entries.all_inner_texts()
    assert [t.split(": ", 1)[1].split(" ", 1)[0] for t in texts] == ["rollback", "weight", "start"]
    assert all(" — local: " in t for t in texts), texts
    assert "weight 10.0 → 100.0" in texts[1]
    assert "rolled back from the dashboard" in texts[0]
    shot(page, "rollouts")
