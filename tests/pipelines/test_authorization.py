"""Who may publish and call pipelines, with real API tokens of several users on the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.apps.platform import build_platform
from modelport.auth.authenticator import Authenticator
from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog.domain import Visibility
from modelport.catalog.setup import build_catalog_service
from modelport.errors import Conflict
from modelport.settings import Settings
from tests.api.test_authorization import USERS, who
from tests.gateway.conftest import META
from tests.pipelines.test_platform import WORDS

pytestmark = pytest.mark.slow

Headers = dict[str, dict[str, str]]


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Headers]]:
    """The platform with auth on: ``split`` public, ``shout`` private to alice."""
    settings = Settings(data_dir=tmp_path / "data")
    catalog = build_catalog_service(settings)
    for name, visibility in (("split", Visibility.PUBLIC), ("shout", Visibility.PRIVATE)):
        spec = f"mp_fixtures.pipes:{name.capitalize()}"
        catalog.registry.publish(
            name, "1.0.0", META, load_spec=spec, published_by=who("alice"), visibility=visibility
        )
    app, _ = build_platform(settings, seed=False)
    tokens = TokenStore(catalog.registry.engine)
    app.state.authenticator = Authenticator(Settings(auth="oidc"), verifier=None, tokens=tokens)
    headers: Headers = {}
    for user, (roles, groups) in USERS.items():
        scopes = [s for s in SCOPES if s != "admin" or "admin" in roles]
        issued = tokens.issue(who(user), "test", scopes, roles=roles, groups=groups)
        headers[user] = {"Authorization": f"Bearer {issued.token}"}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as http,
    ):
        yield http, headers


async def test_a_pipeline_opens_no_step_to_more_callers(
    platform: tuple[httpx.AsyncClient, Headers],
) -> None:
    http, as_ = platform
    url = "/v2/models/loud-words/predict/"
    body: dict[str, Any] = {"text": "a b"}
    assert (await http.post("/pipelines", json=WORDS)).status_code == 401
    refused = await http.post("/pipelines", json=WORDS, headers=as_["carol"])  # no publisher
    assert refused.status_code == 403
    hidden = await http.post("/pipelines", json=WORDS, headers=as_["bob"])  # shout is alice's
    assert hidden.status_code == 422
    assert hidden.json() == {"steps[1].module": ["module 'shout' not found"]}

    published = await http.post("/pipelines", json=WORDS, headers=as_["alice"])
    assert published.status_code == 201, published.text
    assert published.json()["published_by"] == who("alice")
    assert (await http.post(url, json=body, headers=as_["alice"])).status_code == 200
    # bob sees the public pipeline, but not the private step it calls
    answer = await http.post(url, json=body, headers=as_["bob"])
    assert answer.status_code == 404
    assert answer.json()["message"] == "module 'shout' not found"
    assert (await http.post(url, json=body, headers=as_["root"])).status_code == 200
    # a new version of alice's pipeline is hers to publish
    newer = {**WORDS, "version": "1.1.0", "steps": WORDS["steps"][:1], "output": "$steps.split"}
    assert (await http.post("/pipelines", json=newer, headers=as_["bob"])).status_code == 403
    assert (await http.post("/pipelines", json=newer, headers=as_["alice"])).status_code == 201


async def test_a_module_is_a_pipeline_or_a_model(
    platform: tuple[httpx.AsyncClient, Headers], tmp_path: Path
) -> None:
    http, as_ = platform
    named_like_a_model = {**WORDS, "name": "split"}
    clash = await http.post("/pipelines", json=named_like_a_model, headers=as_["alice"])
    assert clash.status_code == 409
    assert "module 'split' is a model: a pipeline cannot be a version of it" in clash.text
    assert (await http.post("/pipelines", json=WORDS, headers=as_["alice"])).status_code == 201
    catalog = build_catalog_service(Settings(data_dir=tmp_path / "data"))
    with pytest.raises(Conflict, match="is a pipeline: a model cannot be a version of it"):
        catalog.registry.publish("loud-words", "2.0.0", META, load_spec="mp_fixtures.pipes:Split")
    # a pipeline is not trained, and has no Open Inference Protocol route
    train = await http.post("/jobs", json={"model": "loud-words", "args": {}}, headers=as_["alice"])
    assert train.status_code == 501, train.text
    assert "is a pipeline: train the modules of its steps" in train.text
    assert "Traceback" not in train.text
