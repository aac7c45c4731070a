"""What the browser tests share: Chromium launched once per test module, and pages that fail
their test on any JavaScript error.

A test module that defines a ``platform`` fixture (the base URL it serves) imports the
``browser`` and ``page`` fixtures from here (and lists them in ``__all__``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _require_browser

if TYPE_CHECKING := False:
    from playwright.sync_api import Browser, Page

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def launched_browser() -> Iterator[Browser]:
    """Headless Chromium (the system's), skipping the test where there is none."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def checked_page(browser: Browser, base: str, viewport: dict[str, int] = DESKTOP) -> Iterator[Page]:
    """A page of a fresh context on ``base``; any JavaScript error it raised fails the test."""
    context = browser.new_context(base_url=base, viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module."""
    with launched_browser() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, platform: str) -> Iterator[Page]:
    """A fresh page on the module's ``platform``."""
    with checked_page(browser, platform) as opened:
        yield opened
