"""The dashboard with authentication on (a real OIDC issuer fixture): who sees what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.api import create_app
from modelport.catalog.domain import Visibility
from modelport.catalog.setup import build_catalog_service
from modelport.contract import discovery
from modelport.jobs.domain import Job
from modelport.jobs.setup import build_job_service
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from modelport.ui import ui_router
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, claims_for, idp, keys
from tests.ui.catalog_seed import metadata

__all__ = ["idp", "keys"]


@pytest.fixture
async def client(
    idp: Idp, keys: dict[str, Key], tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    idp.publish("a", keys["a1"])
    settings = Settings(
        **auth_settings(idp, f"sqlite:///{tmp_path}/mp.db", data_dir=tmp_path, catalog=True)
    )
    catalog = build_catalog_service(settings)
    publish = catalog.registry.publish
    publish(
        "open-model",
        "1.0",
        metadata("Open model", "Everyone sees it."),
        published_by="https://idp|ada",
    )
    publish(
        "secret-model",
        "1.0",
        metadata("Secret model", "Only its owner sees it."),
        published_by="someone-else",
        visibility=Visibility.PRIVATE,
    )
    jobs = build_job_service(settings)
    jobs.store.create(Job(model="echo", model_spec="echo", owner=f"{idp.issuer('a')}|user-1"))
    jobs.store.create(Job(model="echo", model_spec="echo", owner="someone-else"))
    runtime = ModelRuntime([discovery.load("echo")], settings, ServingMetrics())
    app = create_app(settings, runtime, jobs, catalog)
    app.include_router(ui_router(settings, catalog, jobs))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, keys["a1"].sign(claims_for(idp.issuer("a"), groups=["/users"]))


async def test_signed_in_users_see_only_what_they_may(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    http, token = client
    headers = {"Authorization": f"Bearer {token}"}
    catalog = await http.get("/dashboard/", headers=headers)
    assert catalog.status_code == 200
    assert "Open model" in catalog.text
    assert "Secret model" not in catalog.text
    assert 'action="/auth/logout?next=/dashboard/"' in catalog.text  # sign-out, not local mode
    assert "API tokens" in catalog.text
    page = await http.get("/dashboard/modules/open-model", headers=headers)
    assert "<dd>ada</dd>" in page.text  # who published it, without their issuer
    hidden = await http.get("/dashboard/modules/secret-model", headers=headers)
    assert hidden.status_code == 404
    assert "text/html" in hidden.headers["content-type"]
    mine = await http.get("/dashboard/jobs", headers=headers)
    assert mine.text.count('href="/dashboard/jobs/') == 1  # only my job
    tokens = await http.get("/dashboard/tokens", headers=headers)
    assert 'id="token-form"' in tokens.text


async def test_signed_out_visitors_are_not_shown_the_catalog(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = client
    response = await http.get("/dashboard/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "Open model" not in response.text
