"""First contact: ``GET /`` from a browser lands on the dashboard (API clients keep DEEPaaS's
JSON), and Swagger UI offers every model's own document next to the whole API's."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.api.docs import PLATFORM_DOCUMENT
from modelport.api.landing import wants_html
from modelport.apps.platform import assemble_platform
from modelport.auth.config import identity_key
from modelport.auth.tokens import TokenStore
from modelport.catalog.domain import Visibility
from modelport.catalog.setup import build_catalog_service
from modelport.db import connect
from modelport.settings import Settings
from tests.conftest import AppFactory
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, idp, keys
from tests.gateway.conftest import META

__all__ = ["idp", "keys"]  # fixtures, re-exported

CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
VERSIONS_LINK = {"rel": "self", "type": "application/json", "href": "/v2/"}

PlatformClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def platform(tmp_path: Path) -> PlatformClient:
    """The platform's app (``modelport up``) over a catalog holding ``echo``, in its lifespan."""

    @asynccontextmanager
    async def run(owner: str | None = None, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(data_dir=tmp_path / "data", **overrides)
        catalog = build_catalog_service(settings)
        catalog.registry.publish(
            "echo", "1.0.0", META, load_spec="mp_fixtures.typed:Echo", package="mp_fixtures"
        )
        if owner is not None:  # and someone's private module
            catalog.registry.publish(
                "mine",
                "1.0.0",
                META,
                load_spec="mp_fixtures.typed:Echo",
                package="mp_fixtures",
                published_by=owner,
                visibility=Visibility.PRIVATE,
            )
        app, _ = assemble_platform(settings, seed=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
            ) as http,
        ):
            yield http

    return run


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROMIUM_ACCEPT, True),
        (FIREFOX_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),  # curl
        (None, False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.2, application/json", False),
        ("image/png", False),  # nothing we have: the JSON route answers as before
        ("text/html;q=0", False),
    ],
)
def test_which_clients_want_html(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


async def test_a_browser_on_the_platform_lands_on_the_dashboard(platform: PlatformClient) -> None:
    async with platform() as http:
        for path in ("/", ""):
            landed = await http.get(path, headers={"Accept": CHROMIUM_ACCEPT})
            assert landed.status_code == 303
            assert landed.headers["location"] == "/dashboard/"
            assert "Accept" in landed.headers["vary"]
        dashboard = await http.get("/dashboard/", headers={"Accept": CHROMIUM_ACCEPT})
        assert dashboard.status_code == 200
        assert "text/html" in dashboard.headers["content-type"]

        for accept in ("*/*", "application/json"):  # curl, API clients
            versions = await http.get("/", headers={"Accept": accept})
            assert versions.status_code == 200
            assert versions.json()["versions"][0]["links"] == [VERSIONS_LINK]
            assert "Accept" in versions.headers["vary"]
        bare = await http.get("/", headers={"Accept": ""})
        assert bare.json()["versions"][0]["id"] == "v2"
        posted = await http.post("/", headers={"Accept": CHROMIUM_ACCEPT})
        assert posted.status_code == 405  # only GET is redirected


async def test_the_landing_respects_the_base_path(platform: PlatformClient) -> None:
    async with platform(base_path="/models") as http:
        for path in ("/models", "/models/"):
            landed = await http.get(path, headers={"Accept": CHROMIUM_ACCEPT})
            assert landed.status_code == 303
            assert landed.headers["location"] == "/models/dashboard/"
        versions = await http.get("/models/", headers={"Accept": "*/*"})
        assert versions.json()["versions"][0]["links"][0]["href"] == "/models/v2/"
        assert (await http.get("/", headers={"Accept": CHROMIUM_ACCEPT})).status_code == 404


async def test_without_a_dashboard_a_browser_lands_on_swagger_ui(serve: AppFactory) -> None:
    client = await serve("echo", base_path="/deepaas")
    landed = await client.get("/deepaas/", headers={"Accept": FIREFOX_ACCEPT})
    assert landed.status_code == 303
    assert landed.headers["location"] == "/deepaas/api"
    page = await client.get(landed.headers["location"])
    assert page.status_code == 200
    assert (await client.get("/deepaas/")).json()["versions"][0]["id"] == "v2"


def swagger_config(page: httpx.Response) -> dict[str, Any]:
    """The configuration the Swagger UI page hands to SwaggerUIBundle."""
    found = re.search(
        r'<script id="swagger-config" type="application/json">(.*?)</script>', page.text
    )
    assert found is not None, page.text
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_swagger_ui_offers_each_catalog_modules_document(platform: PlatformClient) -> None:
    async with platform(base_path="/mp") as http:
        page = await http.get("/mp/api")
        assert page.status_code == 200
        assert "/mp/static/swagger-ui/swagger-ui-standalone-preset.js" in page.text
        config = swagger_config(page)
        assert config["urls"] == [
            {"name": PLATFORM_DOCUMENT, "url": "/mp/openapi.json"},
            {"name": "echo", "url": "/mp/v2/models/echo/openapi.json"},
        ]
        assert "urls.primaryName" not in config
        chosen = swagger_config(await http.get("/mp/api", params={"urls.primaryName": "echo"}))
        assert chosen["urls.primaryName"] == "echo"
        unknown = swagger_config(await http.get("/mp/api", params={"urls.primaryName": "nope"}))
        assert "urls.primaryName" not in unknown
        for asset in ("swagger-ui/swagger-ui-standalone-preset.js", "swagger-init.js"):
            assert (await http.get(f"/mp/static/{asset}")).status_code == 200, asset


async def test_swagger_ui_offers_each_served_models_document(serve: AppFactory) -> None:
    client = await serve("echo", "legacy")
    config = swagger_config(await client.get("/api"))
    assert [d["name"] for d in config["urls"]] == [PLATFORM_DOCUMENT, "echo", "legacy"]
    for document in config["urls"]:
        answer = await client.get(document["url"])
        assert answer.status_code == 200, document
        assert answer.json()["openapi"].startswith("3.")


async def test_swagger_ui_offers_only_the_documents_the_caller_may_read(
    platform: PlatformClient, idp: Idp, keys: dict[str, Key], tmp_path: Path
) -> None:
    idp.publish("a", keys["a1"])
    given = auth_settings(idp, f"sqlite:///{tmp_path}/platform.db")
    tokens = TokenStore(connect(Settings(data_dir=tmp_path / "data", **given).store_url()))
    ada, ben = (identity_key(idp.issuer("a"), who) for who in ("alice", "bob"))

    def bearer(user: str) -> dict[str, str]:
        issued = tokens.issue(user, "test", ["read", "predict"], roles=["user"], groups=[])
        return {"Authorization": f"Bearer {issued.token}"}

    async with platform(owner=ada, **given) as http:
        signed_out = swagger_config(await http.get("/api"))
        assert [d["name"] for d in signed_out["urls"]] == [PLATFORM_DOCUMENT]
        alice = swagger_config(await http.get("/api", headers=bearer(ada)))
        assert [d["name"] for d in alice["urls"]] == [PLATFORM_DOCUMENT, "echo", "mine"]
        bob = swagger_config(await http.get("/api", headers=bearer(ben)))
        assert [d["name"] for d in bob["urls"]] == [PLATFORM_DOCUMENT, "echo"]
        landed = await http.get("/", headers={"Accept": CHROMIUM_ACCEPT})  # open, as / is
        assert landed.status_code == 303
        assert landed.headers["location"] == "/dashboard/"
