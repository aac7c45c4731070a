"""The dashboard in a real browser against ``modelport up``: catalog modules served on demand.

Under the platform, ``/v2/models/{name}/...`` are catalog modules answered by worker processes
(their OpenAPI documents come from the module's own worker), training goes through ``POST /jobs``
and "publish as a new version" through the catalog route. A second platform runs with sign-in on
(``auth = oidc``, a real OIDC issuer fixture): signing in and out, and the API tokens page.

Same rules as tests/ui/test_browser.py: skipped when /usr/bin/chromium is missing (failed with
CI=true); screenshots go to $SCREENSHOT_DIR (default tests/ui/screenshots), prefixed ``platform-``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env
from tests.fixtures.oidc_provider import CLIENT_ID, Idp, auth_settings, rsa_key, run_idp
from tests.ui.catalog_seed import metadata
from tests.ui.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    _require_browser,
    png,
    shot,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if TYPE_CHECKING := False:
    from playwright.sync_api import Browser, BrowserContext, Page

SIGNED_IN_GROUPS = ["/users", "/trainers", "/publishers"]


def seed_platform(data: Path, examples: bool = True) -> int:
    """The bundled examples (iris...) and two modules whose code is the fixture models.

    Returns how many modules the catalog holds.
    """
    catalog = build_catalog_service(Settings(data_dir=data))
    published = seed_examples(catalog) if examples else []
    publish = catalog.registry.publish
    publish(
        "classifier",
        "1.0.0",
        metadata(
            "Animal photo classifier",
            "Tell cats from dogs, foxes and owls in a photo.",
            libraries=["PyTorch"],
            tasks=["Computer Vision", "Classification"],
            **{"data-type": ["Image"]},
        ),
        load_spec="mp_fixtures.vision:Classifier",
        package="mp_fixtures",
    )
    publish(
        "trainer",
        "1.0.0",
        metadata(
            "Loss trainer",
            "A trainable test model reporting a falling loss.",
            tasks=["Regression"],
            categories=["AI4 trainable"],
            resources={"training": {"cpu": 1}},
        ),
        load_spec="mp_fixtures.typed:Trainer",
        package="mp_fixtures",
    )
    return len(published) + 2


def start_platform(
    data: Path, *, seed: bool = False, limit_s: float = 30, **env: str
) -> tuple[subprocess.Popen[str], str]:
    """``python -m modelport up`` on a free port of 127.0.0.1 (the fixture models importable);
    ``seed``: publishing the bundled examples the catalog lacks, as a newcomer's ``up`` does."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "up", "--port", str(port)]
        + ([] if seed else ["--no-seed"]),
        env=subprocess_env(
            MODELPORT_DATA_DIR=str(data),
            MODELPORT_TRAINING_IDLE_PRIORITY="false",
            MODELPORT_TRAINING_NICE="0",
            MODELPORT_CANCEL_GRACE="0.5",
            **env,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, limit_s)
    except BaseException:
        stop(proc)
        raise
    return proc, base


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``modelport up`` (auth off) over a seeded catalog: its URL and how many modules it has."""
    _require_browser()
    data = tmp_path_factory.mktemp("platform-data")
    modules = seed_platform(data)
    proc, base = start_platform(data)
    try:
        yield base, modules
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def idp_server() -> Iterator[Idp]:
    """The OIDC issuer: realm ``a``, signing in a user, trainer and publisher at once."""
    with run_idp() as provider:
        key = rsa_key("a1")
        provider.publish("a", key)
        provider.sign_in_as(
            "a", groups=SIGNED_IN_GROUPS, preferred_username="ada", email="ada@example.org"
        )
        yield provider


@pytest.fixture(scope="module")
def auth_platform(tmp_path_factory: pytest.TempPathFactory, idp_server: Idp) -> Iterator[str]:
    """``modelport up`` with ``auth = oidc`` trusting the fixture issuer (browser sign-in on)."""
    _require_browser()
    data = tmp_path_factory.mktemp("platform-auth-data")
    seed_platform(data, examples=False)  # the fixture modules are enough here
    oidc = Settings(**auth_settings(idp_server, f"sqlite:///{data}/unused.db")).oidc
    assert oidc is not None
    proc, base = start_platform(
        data,
        MODELPORT_AUTH="oidc",
        MODELPORT_OIDC=oidc.model_dump_json(exclude_none=True),
        MODELPORT_OIDC_CLIENT_ID=CLIENT_ID,
    )
    try:
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def open_page(browser: Browser, base: str) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, opened, errors


@pytest.fixture
def page(browser: Browser, platform: tuple[str, int]) -> Iterator[Page]:
    context, opened, errors = open_page(browser, platform[0])
    yield opened
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def auth_page(browser: Browser, auth_platform: str) -> Iterator[Page]:
    context, opened, errors = open_page(browser, auth_platform)
    yield opened
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_search_and_try_iris(page: Page, platform: tuple[str, int]) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/")
    count = page.locator("#result-count")
    expect(count).to_contain_text(f"{platform[1]} modules match")
    search = page.get_by_label("Search modules")
    for words, title in [
        ("animal", "Animal photo classifier"),
        ("loss", "Loss trainer"),
        ("iris", "Iris species classifier"),
    ]:
        search.fill("")
        search.press_sequentially(words, delay=20)
        expect(page).to_have_url(re.compile(f"q={words}"))
        expect(count).not_to_contain_text(f"{platform[1]} modules match")
        expect(page.get_by_role("link", name=title)).to_be_visible()
    shot(page, "platform-catalog")

    page.get_by_role("link", name="Iris species classifier").click()
    expect(page).to_have_url(re.compile(r"/dashboard/modules/iris$"))
    page.get_by_role("link", name="Try it").click()
    for name, value in [
        ("sepal_length", "5.1"),
        ("sepal_width", "3.5"),
        ("petal_length", "1.4"),
        ("petal_width", "0.2"),
    ]:
        page.get_by_label(re.compile(f"^{name}")).fill(value)
    page.get_by_role("button", name="Run prediction").click()
    bars = page.locator(".bars li")
    expect(bars).to_have_count(3, timeout=30_000)  # the first call loads iris's worker
    expect(bars.first).to_contain_text("setosa")
    expect(bars.first).to_contain_text("%")
    shot(page, "platform-try-iris")


def test_try_the_image_classifier(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    image = tmp_path / "cat.png"
    image.write_bytes(png())
    page.goto("/dashboard/modules/classifier/try")
    upload = page.get_by_label("image (required)")
    expect(upload).to_be_visible(timeout=30_000)  # the document comes from a cold worker
    expect(page.get_by_label("top_k")).to_have_attribute("max", "4")
    upload.set_input_files(str(image))
    expect(page.get_by_alt_text("Preview of cat.png")).to_be_visible()
    page.get_by_label("top_k").fill("9")
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator("#err-top_k")).to_contain_text("4")  # the worker's 422, at its field
    page.get_by_label("top_k").fill("2")
    page.get_by_role("button", name="Run prediction").click()
    bars = page.locator(".bars li")
    expect(bars).to_have_count(2)
    expect(bars.first).to_contain_text("cat")
    shot(page, "platform-try-classifier")


def test_train_publish_predict_with_the_version_and_cancel(
    page: Page, platform: tuple[str, int]
) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/trainer/train")
    page.get_by_label("epochs").fill("5")
    page.get_by_label("sleep").fill("0.1")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=45_000)
    expect(page.locator("#job-progress-text")).to_have_text("100%")
    chart = page.locator('svg.chart[data-metric="loss"]')
    expect(chart).to_have_attribute("data-points", "5")
    expect(chart.locator("polyline")).to_have_count(1)
    expect(page.get_by_role("link", name="weights.json")).to_be_visible()
    shot(page, "platform-job")

    expect(page.get_by_label("New version of trainer")).to_have_value("1.0.1")
    page.get_by_role("button", name="Publish version").click()
    expect(page).to_have_url(re.compile(r"/dashboard/modules/trainer/versions/1\.0\.1$"))
    expect(page.locator("#versions")).to_contain_text("1.0.1")
    expect(page.locator("#versions")).to_contain_text(f"trained by job {job_id[:8]}")
    lineage = page.locator(".lineage")
    expect(lineage).to_contain_text("version 1.0.0")
    expect(lineage).to_contain_text(job_id)
    curl = page.locator('[data-snippet="curl"]')
    expect(curl).to_contain_text("/v2/models/trainer/versions/1.0.1/predict/")
    expect(page.locator('[data-snippet="python"]')).to_contain_text('version="1.0.1"')
    shot(page, "platform-version")

    page.get_by_role("link", name="Try it").click()
    expect(page).to_have_url(re.compile(r"/try\?version=1\.0\.1$"))
    page.get_by_label("x").fill("2.5")
    with page.expect_response(re.compile(r"/predict/?$")) as answer:
        page.get_by_role("button", name="Run prediction").click()
    response = answer.value
    assert "/v2/models/trainer/versions/1.0.1/predict" in response.url
    assert response.headers.get("x-modelport-model-version") == "1.0.1"
    expect(page.locator(".tree")).to_contain_text("2.5")
    shot(page, "platform-try-version")
    pinned = httpx.post(f"{platform[0]}/v2/models/trainer/versions/1.0.1/predict/", data={"x": 1})
    assert pinned.status_code == 200, pinned.text

    page.goto("/dashboard/modules/trainer/train")
    page.get_by_label("epochs").fill("200")
    page.get_by_label("sleep").fill("0.5")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    assert not page.url.endswith(job_id)
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=20_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()

    page.goto("/dashboard/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    expect(page.locator("table.jobs")).to_contain_text("cancelled")
    expect(page.locator("table.jobs")).to_contain_text("succeeded")
    shot(page, "platform-jobs")


def test_sign_in_tokens_and_sign_out(auth_page: Page, auth_platform: str) -> None:
    from playwright.sync_api import expect

    page = auth_page
    response = page.goto("/dashboard/modules/trainer")
    assert response is not None
    assert response.status == 401
    expect(page.locator(".error-page")).to_contain_text("Sign-in needed")
    assert "Loss trainer" not in page.locator("main").inner_text()
    shot(page, "platform-signed-out")

    page.locator(".error-page").get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(f"{auth_platform}/dashboard/modules/trainer")  # back where we were
    # the session (an API token) keeps the display name of whoever signed in, not just the subject
    expect(page.locator(".account")).to_contain_text("Signed in as ada")
    expect(page.get_by_role("heading", level=1)).to_have_text("Loss trainer")

    page.get_by_role("link", name="API tokens").click()
    session = page.locator("#tokens tbody tr", has_text="browser session")
    expect(session).to_contain_text("(this browser)")  # the sign-in itself, not revocable here
    expect(session.get_by_role("button")).to_have_count(0)
    page.get_by_label("Name").fill("laptop")
    page.get_by_label(re.compile(r"^train")).check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token")
    expect(secret).to_be_visible()
    expect(secret).to_have_value(re.compile(r"^mp_"))
    token = secret.input_value()
    row = page.locator("#tokens tbody tr", has_text="laptop")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("train")
    shot(page, "platform-tokens")
    me = httpx.get(f"{auth_platform}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text

    page.reload()
    expect(page.get_by_label("New token")).to_be_hidden()  # shown once
    row = page.locator("#tokens tbody tr", has_text="laptop")
    row.get_by_role("button", name="Revoke token laptop").click()
    expect(row).to_contain_text("revoked")
    revoked = httpx.get(f"{auth_platform}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".account").get_by_role("link", name="Sign in")).to_be_visible()
    expect(page).to_have_url(f"{auth_platform}/dashboard/")
    assert page.request.get("/auth/me").status == 401  # the session cookie is gone
    response = page.goto("/dashboard/")
    assert response is not None
    assert response.status == 401
