"""A notebook from the dashboard in Chromium: signed in, start JupyterLab from My jobs, wait for
it to load through the platform, run a cell (its kernel's WebSocket through the proxy) that
imports numpy and reads a file of the user's data area, stop it; another user gets 404."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.notebooks.conftest import Platform
from tests.ui.browsing import DESKTOP, launched_browser
from tests.ui.test_browser import TIMEOUT_MS, shot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CELL = (
    "import numpy as np\n"
    "grid = np.loadtxt('data/readings.csv', delimiter=',')\n"
    "print(f'sum={grid.sum():g} numpy={np.__version__}')"
)


def test_open_jupyterlab_from_the_dashboard_run_a_cell_and_stop_it(platform: Platform) -> None:
    from playwright.sync_api import expect

    with launched_browser() as browser:
        context = browser.new_context(base_url=platform.base, viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        page.goto("/dashboard/jobs")
        page.locator(".error-page").get_by_role("link", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("My jobs")
        stored = page.request.put(
            "/data/readings.csv", data=b"1,2\n3,4\n", headers={"Origin": platform.base}
        )
        assert stored.status == 201, stored.text()

        page.get_by_label("CPUs").fill("1")
        page.get_by_role("button", name="Start JupyterLab").click()
        expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
        job_id = page.url.rsplit("/", 1)[1]
        expect(page.get_by_role("heading", level=1)).to_have_text("JupyterLab notebook")
        opener = page.get_by_role("link", name="Open JupyterLab")
        expect(opener).to_be_visible(timeout=120_000)
        shot(page, "notebook-job")

        lab = context.new_page()
        console: list[str] = []
        lab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        lab.goto(opener.get_attribute("href") or "")
        launcher = lab.locator('.jp-LauncherCard[data-category="Notebook"]').first
        expect(launcher).to_be_visible(timeout=60_000)  # JupyterLab loaded, through the proxy
        launcher.click()
        editor = lab.locator(".jp-Notebook .jp-Cell .cm-content").first
        expect(editor).to_be_visible(timeout=30_000)
        # its kernel answers on its WebSocket (the status bar's kernel item says so)
        kernel = lab.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\) \| Idle"))
        expect(kernel).to_be_visible(timeout=60_000)
        editor.click()
        lab.keyboard.insert_text(CELL)
        expect(editor).to_contain_text("loadtxt")  # typed into the cell, not lost to a dialog
        lab.keyboard.press("Shift+Enter")
        output = lab.locator(".jp-OutputArea-output").first
        try:
            expect(output).to_contain_text("sum=10", timeout=60_000)
        except AssertionError:  # what the page and JupyterLab said, for whoever reads the failure
            print("\n".join(console[-60:]))
            print(lab.locator(".jp-Notebook").inner_text())
            print(page.request.get(f"/jobs/{job_id}/logs").text())
            raise
        shot(lab, "notebook-jupyterlab")

        # another user: nothing of it (404), as for a job of somebody else's
        other = httpx.get(
            f"{platform.base}/notebooks/{job_id}/lab", headers=platform.headers["bob"]
        )
        assert other.status_code == 404

        page.goto("/dashboard/jobs")
        row = page.locator(f"tr[data-job='{job_id}']")
        expect(row).to_contain_text("JupyterLab")
        expect(row.get_by_role("link", name="Open")).to_be_visible()
        row.get_by_role("button", name="Stop").click()
        expect(row.locator(".status")).to_have_text("cancelled", timeout=30_000)
        deadline = time.monotonic() + 30
        while page.request.get(f"/notebooks/{job_id}/lab").status != 409:
            assert time.monotonic() < deadline
            time.sleep(0.2)

        # a module's page: "Open in JupyterLab" starts one with its source checked out
        page.goto("/dashboard/modules/tiny-detector")
        page.get_by_role("button", name="Open in JupyterLab").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "JupyterLab notebook on tiny-detector"
        )
        expect(page.locator("#notebook")).to_contain_text("~/tiny-detector")
        expect(page.get_by_role("link", name="Open JupyterLab")).to_be_visible(timeout=120_000)
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#job-status")).to_have_text("cancelled", timeout=30_000)
        context.close()
        assert not errors, f"JavaScript errors on the dashboard: {errors}"
