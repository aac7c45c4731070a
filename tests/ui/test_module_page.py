"""First contact in a real browser against ``modelport up``: landing on the dashboard, module
pages whose snippets run as printed, Swagger UI reaching each module's own document, a job page
that says where its training was published, and an owner yanking versions and editing aliases.

The data directory already holds modules of our own (the fixture models) before ``up`` starts,
with seeding on: the bundled examples must be published anyway. The snippets are taken from the
page as shown, the files they name are created with valid content, and both the curl command and
the Python code run in subprocesses against the platform. Same browser rules as
tests/ui/test_browser.py (skipped without /usr/bin/chromium, failed with CI=true).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.conftest import subprocess_env
from tests.ui.browsing import browser, page
from tests.ui.catalog_seed import metadata
from tests.ui.test_browser import _require_browser, png, shot
from tests.ui.test_browser_platform import (
    auth_platform,
    idp_server,
    open_page,
    start_platform,
    stop,
)

__all__ = ["auth_platform", "browser", "idp_server", "page"]  # fixtures, re-exported

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if TYPE_CHECKING := False:
    from playwright.sync_api import Browser, Page

EXAMPLES = ("iris", "image-classifier", "stream-anomaly", "sim-postprocess", "tiny-detector")
FIXTURES = {
    "classifier": "mp_fixtures.vision:Classifier",
    "trainer": "mp_fixtures.typed:Trainer",
    "showcase": "mp_fixtures.showcase:Showcase",
}
COLD = 60_000
CREATE_TOKEN = """async () => {
  const answer = await fetch("/auth/tokens", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({name: "snippets", scopes: ["read", "predict"]}),
  });
  return (await answer.json()).token;
}"""  # a module's first document comes from a worker started for it


def npz() -> bytes:
    """A small valid .npz (numpy's zip of .npy members), as simulations write them."""
    import numpy as np

    out = io.BytesIO()
    np.savez(out, temperature=np.arange(24, dtype="float64").reshape(4, 6))
    return out.getvalue()


def file_content(name: str) -> bytes:
    """Valid content for a file a snippet names, by its extension."""
    suffix = Path(name).suffix
    if suffix in (".png", ".bin"):  # the image arguments here: PNG (declared or not)
        return png(32, 32)
    if suffix == ".npz":
        return npz()
    if suffix == ".ndjson":
        return b'{"duration": 1.0, "bytes_in": 10, "bytes_out": 5, "packets": 2, "port": 80}\n'
    if suffix == ".zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("a/1.png", png())
        return out.getvalue()
    raise AssertionError(f"a snippet names a file this test cannot make: {name}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelport up`` (seeding on) over a data directory that already holds three modules."""
    _require_browser()
    data = tmp_path_factory.mktemp("first-contact-data")
    catalog = build_catalog_service(Settings(data_dir=data))
    for name, spec in FIXTURES.items():
        meta = metadata(f"The {name} fixture", f"The {name} test model.")
        catalog.registry.publish(name, "1.0.0", meta, load_spec=spec, package="mp_fixtures")
    proc, base = start_platform(data, seed=True, limit_s=90)
    try:
        yield base
    finally:
        stop(proc)


def shown_snippets(page: Page) -> tuple[str, str]:
    """The curl command and Python code the page shows, once built from the model's document."""
    from playwright.sync_api import expect

    expect(page.locator("[data-snippets]")).to_have_attribute("data-state", "ready", timeout=COLD)
    return (
        page.locator('[data-snippet="curl"]').inner_text(),
        page.locator('[data-snippet="python"]').inner_text(),
    )


def named_files(curl: str, python: str) -> list[str]:
    """The files the snippets send (the same in both)."""
    in_curl = re.findall(r"=@([^;' ]+)", curl)
    in_python = re.findall(r'Path\("([^"]+)"\)', python)
    assert sorted(in_curl) == sorted(in_python), (curl, python)
    return in_curl


def run_snippets(curl: str, python: str, workdir: Path, **env: str) -> tuple[object, object]:
    """Run both snippets as printed in ``workdir`` (the files they name made there): their JSON.

    curl's status is read through a .curlrc (``write-out``), so the command runs unchanged.
    """
    assert shutil.which("curl"), "curl is needed to run the curl snippet"
    workdir.mkdir(parents=True, exist_ok=True)
    for name in named_files(curl, python):
        (workdir / name).write_bytes(file_content(name))
    (workdir / ".curlrc").write_text('silent\nshow-error\nwrite-out = "\\n%{http_code}"\n')
    ran = subprocess.run(
        ["bash", "-c", curl],
        cwd=workdir,
        env={**subprocess_env(**env), "CURL_HOME": str(workdir), "HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, (curl, ran.stderr)
    body, _, status = ran.stdout.rpartition("\n")
    assert status == "200", (curl, ran.stdout)
    coded = subprocess.run(
        [sys.executable, "-c", python],
        cwd=workdir,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert coded.returncode == 0, (python, coded.stderr)  # the client raises on any error status
    printed = coded.stdout.strip()
    return json.loads(body), printed


def test_a_browser_at_the_root_lands_on_the_dashboard(page: Page, platform: str) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(f"{platform}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Model catalog")
    for name in (*EXAMPLES, *FIXTURES):  # up published the examples next to our modules
        expect(page.locator(f'#search-results a[href="/dashboard/modules/{name}"]')).to_be_visible()
    versions = httpx.get(f"{platform}/", headers={"Accept": "*/*"})  # curl still gets JSON
    assert versions.json()["versions"][0]["id"] == "v2"


@pytest.mark.parametrize("name", [*EXAMPLES, "classifier", "showcase"])
def test_the_module_pages_snippets_run_as_printed(
    page: Page, platform: str, tmp_path: Path, name: str
) -> None:
    page.goto(f"/dashboard/modules/{name}")
    curl, python = shown_snippets(page)
    assert "photo.jpg" not in curl
    assert f"'{platform}/v2/models/{name}/predict/'" in curl
    answer, printed = run_snippets(curl, python, tmp_path)
    assert answer, curl
    assert printed, python
    shot(page, f"module-snippets-{name}")


def test_snippets_hold_required_arguments_examples_and_what_the_user_changes(
    page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/iris")
    curl, python = shown_snippets(page)
    for argument, example in [("sepal_length", "5.1"), ("petal_width", "0.2")]:
        assert f"-F '{argument}={example}'" in curl
        assert f"{argument}={example}" in python
    assert "top_k" not in curl + python  # optional, left at its default
    answer, _ = run_snippets(curl, python, tmp_path / "before")
    assert isinstance(answer, list)
    assert len(answer) == 3

    top_k = page.get_by_label(re.compile("^top_k"))
    expect(top_k).to_be_visible(timeout=COLD)
    top_k.fill("2")
    expect(page.locator('[data-snippet="curl"]')).to_contain_text("-F 'top_k=2'")
    expect(page.locator('[data-snippet="python"]')).to_contain_text("top_k=2")
    page.get_by_label(re.compile("^sepal_length")).fill("6.7")
    expect(page.locator('[data-snippet="curl"]')).to_contain_text("-F 'sepal_length=6.7'")
    curl, python = shown_snippets(page)
    answer, printed = run_snippets(curl, python, tmp_path / "after")
    assert isinstance(answer, list)
    assert len(answer) == 2
    assert "'label'" in str(printed)
    top_k.fill("3")  # back to the default: not sent
    expect(page.locator('[data-snippet="curl"]')).not_to_contain_text("top_k")
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the module page scrolls sideways on a phone ({width} px)"
    shot(page, "module-snippets-iris-phone")


def test_files_are_named_by_their_declared_media_type(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/showcase")
    curl, python = shown_snippets(page)
    assert "-F 'photo=@image.png;type=image/png'" in curl
    assert 'files={"photo": Path("image.png")}' in python
    assert "--form-string 'notes=3.5\n9.25\n1.0'" in curl  # multi-line text, sent literally
    assert "threshold=4" in python  # an example differing from the default is what the form sends
    expect(page.locator("[data-snippet-files]")).to_contain_text("image.png (image/png)")
    answer, _ = run_snippets(curl, python, tmp_path)
    assert isinstance(answer, dict)
    assert answer["records"] == 3


def test_module_pages_open_their_own_document_in_swagger_ui(page: Page, platform: str) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/iris")
    page.get_by_role("link", name="API documentation").first.click()
    expect(page).to_have_url(f"{platform}/api?urls.primaryName=iris")
    selector = page.locator("select#select")
    expect(selector).to_have_value("/v2/models/iris/openapi.json", timeout=COLD)
    info = page.locator(".information-container")
    expect(info).to_contain_text("/v2/models/iris/openapi.json", timeout=COLD)
    predict = page.locator(".opblock-post", has_text="/v2/models/iris/predict/").first
    predict.locator(".opblock-summary").click()
    expect(predict).to_contain_text("sepal_length")
    shot(page, "swagger-iris")
    options = selector.locator("option").all_inner_texts()
    assert options[0] == "modelport: every route"
    assert {*EXAMPLES, *FIXTURES} <= set(options)
    selector.select_option(label="showcase")
    expect(page).to_have_url(re.compile(r"urls\.primaryName=showcase"))
    expect(info).to_contain_text("/v2/models/showcase/openapi.json", timeout=COLD)
    showcase = page.locator(".opblock-post", has_text="/v2/models/showcase/predict/")
    expect(showcase.first).to_be_visible()


def test_a_published_job_is_not_offered_for_publishing_again(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/trainer/train")
    page.get_by_label("epochs").fill("1")
    page.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"/dashboard/jobs/[0-9a-f]{32}$"))
    job_url = page.url
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    page.get_by_label("New version of trainer").fill("1.1.0")
    page.get_by_role("button", name="Publish version").click()
    expect(page).to_have_url(re.compile(r"/modules/trainer/versions/1\.1\.0$"))

    page.goto(job_url)
    published = page.locator(".published-as")
    expect(published).to_contain_text("published as trainer 1.1.0")
    expect(page.get_by_role("button", name="Publish version")).to_have_count(0)
    expect(page.get_by_label("New version of trainer")).to_have_count(0)
    shot(page, "job-published")
    published.get_by_role("link", name="trainer 1.1.0").click()
    expect(page).to_have_url(re.compile(r"/dashboard/modules/trainer/versions/1\.1\.0$"))


def test_the_owner_yanks_unyanks_and_edits_aliases(page: Page, platform: str) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard/modules/classifier")
    versions = page.locator("#versions")
    row = versions.locator('li[data-version="1.0.0"]')
    row.get_by_text("Yank 1.0.0…").click()
    row.get_by_role("button", name="Yank version 1.0.0").click()
    expect(row.locator(".error")).to_contain_text("Give a reason")
    row.get_by_label("Why (shown to everyone)").fill("mislabelled owls")
    row.get_by_role("button", name="Yank version 1.0.0").click()
    expect(row.locator(".badge")).to_have_text("yanked")
    expect(row).to_contain_text("Reason: mislabelled owls")
    shot(page, "module-yanked")
    listed = httpx.get(f"{platform}/catalog/modules/classifier/versions").json()
    assert listed == []  # hidden from listings...
    pinned = page.request.get("/dashboard/modules/classifier/versions/1.0.0")
    assert pinned.status == 200  # ...still reachable by its number, saying why
    assert "mislabelled owls" in pinned.text()
    # an answer of the yanked version says so (once the gateway's catalog cache has it)
    deadline = time.monotonic() + 20
    while (
        "warning"
        not in httpx.post(
            f"{platform}/v2/models/classifier/versions/1.0.0/predict/", files={"image": png()}
        ).headers
    ):
        assert time.monotonic() < deadline, "no Warning header on the yanked version's answer"
        time.sleep(0.5)
    page.goto("/dashboard/modules/classifier/try?version=1.0.0")
    page.locator("#arg-image").set_input_files(
        files=[{"name": "owl.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.get_by_role("button", name="Run prediction").click()
    expect(page.locator(".yanked-answer")).to_contain_text("yanked: mislabelled owls")
    page.goto("/dashboard/modules/classifier")

    page.get_by_role("button", name="Unyank 1.0.0").click()
    expect(row.locator(".badge")).to_have_count(0)
    listed = httpx.get(f"{platform}/catalog/modules/classifier/versions").json()
    assert [v["version"] for v in listed] == ["1.0.0"]

    page.get_by_label("Alias").fill("stable")
    page.get_by_role("button", name="Set alias").click()
    aliases = page.locator("#aliases")
    expect(aliases).to_contain_text("stable → 1.0.0")
    expect(row.locator(".aliases")).to_contain_text("stable")
    page.get_by_role("button", name="Remove alias stable").click()
    expect(page.locator("#aliases")).not_to_contain_text("stable")
    page.get_by_label("Alias").fill("no spaces allowed")
    page.get_by_role("button", name="Set alias").click()
    expect(page.locator("#alias-error")).not_to_be_empty()


def test_with_sign_in_on_the_snippets_send_the_users_token(
    browser: Browser, auth_platform: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context, page, errors = open_page(browser, auth_platform)
    try:
        page.goto("/dashboard/modules/trainer")
        page.locator(".error-page").get_by_role("link", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Loss trainer")
        curl, python = shown_snippets(page)
        assert 'Bearer $MODELPORT_TOKEN"' in curl
        assert 'token=os.environ["MODELPORT_TOKEN"]' in python
        token = page.evaluate(CREATE_TOKEN)  # as the tokens page does, with the session
        assert str(token).startswith("mp_"), token
        answer, printed = run_snippets(curl, python, tmp_path, MODELPORT_TOKEN=token)
        assert answer == {"y": 1.0}
        assert printed == "{'y': 1.0}"
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"
