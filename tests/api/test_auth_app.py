"""Authentication on the whole app: open paths, every other route closed, /auth token routes,
auth off unchanged, configuration from the environment, and serve's bind check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelport.api import create_app
from modelport.api.auth import AuthenticationMiddleware
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from tests.conftest import AppFactory
from tests.fixtures.oidc_provider import (
    AuthAppFactory,
    Idp,
    Key,
    auth_serve,
    claims_for,
    idp,
    keys,
)

__all__ = ["auth_serve", "idp", "keys"]


def bearer_for(idp: Idp, key: Key, *groups: str, **claims: Any) -> dict[str, str]:
    token = key.sign(claims_for(idp.issuer("a"), groups=list(groups), **claims))
    return {"Authorization": f"Bearer {token}"}


OPEN = [
    "/",
    "/v2/",
    "/v2",
    "/health/live",
    "/health/ready",
    "/openapi.json",
    "/swagger.json",
    "/api",
    "/docs/",
    "/static/swagger-ui/swagger-ui.css",
]


async def test_open_paths_need_no_credentials(auth_serve: AuthAppFactory) -> None:
    client = await auth_serve()
    for path in OPEN:
        assert (await client.get(path)).status_code == 200, path
    spec = (await client.get("/openapi.json")).json()
    assert "/auth/tokens" in spec["paths"]
    assert "/auth/me" in spec["paths"]
    # the document tells clients how to authenticate (Swagger UI's Authorize button uses it)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"bearer": []} in spec["security"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/"),
        ("GET", "/v2/models/echo"),
        ("POST", "/v2/models/echo/predict"),
        ("GET", "/metrics"),
        ("GET", "/auth/me"),
        ("GET", "/auth/tokens"),
        ("DELETE", "/auth/tokens/abc"),
        ("GET", "/no/such/route"),  # closed too: routes are not revealed
        ("GET", "/v2/models/echo/train/"),
    ],
)
async def test_everything_else_needs_credentials(
    auth_serve: AuthAppFactory, method: str, path: str
) -> None:
    client = await auth_serve()
    response = await client.request(method, path)
    assert response.status_code == 401
    assert response.json() == {
        "message": "authentication required: send 'Authorization: Bearer <token>'"
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="modelport"'


async def test_metrics_are_for_admins(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    user = bearer_for(idp, keys["a1"], "/users")
    admin = bearer_for(idp, keys["a1"], "/admins")
    assert (await client.get("/metrics", headers=user)).status_code == 403
    assert (await client.get("/metrics", headers=admin)).status_code == 200
    # a read-only API token of an admin is enough for Prometheus
    made = await client.post(
        "/auth/tokens", json={"name": "prometheus", "scopes": ["read"]}, headers=admin
    )
    scrape = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await client.get("/metrics", headers=scrape)).status_code == 200


async def test_me(auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]) -> None:
    client = await auth_serve()
    headers = bearer_for(idp, keys["a1"], "/users", "/trainers", name="Ada")
    me = (await client.get("/auth/me", headers=headers)).json()
    assert me["subject"] == "user-1"
    assert me["name"] == "Ada"
    assert me["roles"] == ["group:trainers", "group:users", "trainer", "user"]
    assert me["groups"] == ["/users", "/trainers"]
    assert me["scopes"] is None
    assert me["grantable_scopes"] == ["predict", "read", "train"]


async def test_tokens_grant_no_more_than_their_owner_has(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    user = bearer_for(idp, keys["a1"], "/users")
    beyond = await client.post(
        "/auth/tokens", json={"name": "x", "scopes": ["predict", "train"]}, headers=user
    )
    assert beyond.status_code == 403
    assert "train" in beyond.json()["message"]
    unknown = await client.post(
        "/auth/tokens", json={"name": "x", "scopes": ["root"]}, headers=user
    )
    assert unknown.status_code == 422
    too_long = {"name": "x", "scopes": ["read"], "expires_in_days": 366}
    assert (await client.post("/auth/tokens", json=too_long, headers=user)).status_code == 422
    assert (
        await client.post("/auth/tokens", json={"name": "x", "scopes": []}, headers=user)
    ).status_code == 422

    made = await client.post(
        "/auth/tokens",
        json={"name": "reader", "scopes": ["read"], "expires_in_days": 7},
        headers=user,
    )
    assert made.status_code == 201
    record = made.json()["record"]
    assert record["roles"] == ["group:users", "user"]
    assert record["groups"] == ["/users"]
    # a read-only token cannot mint a predict token, nor one with its own scope beyond
    reader = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (
        await client.post("/auth/tokens", json={"name": "y", "scopes": ["predict"]}, headers=reader)
    ).status_code == 403
    child = await client.post(
        "/auth/tokens", json={"name": "y", "scopes": ["read"]}, headers=reader
    )
    assert child.status_code == 201
    assert child.json()["record"]["roles"] == ["group:users", "user"]
    # minted with the reader: its child, expiring with it (asked for the default 90 days)
    assert child.json()["record"]["parent_id"] == record["id"]
    assert child.json()["record"]["expires_at"] == record["expires_at"]
    assert made.json()["record"]["parent_id"] is None  # minted with an OIDC token: nobody's

    listed = (await client.get("/auth/tokens", headers=user)).json()
    assert [t["name"] for t in listed] == ["y", "reader"]
    assert made.json()["token"] not in json.dumps(listed)
    assert all("token" not in t for t in listed)
    # revoking the reader revokes what was minted with it
    assert (await client.delete(f"/auth/tokens/{record['id']}", headers=user)).status_code == 200
    grandchild = {"Authorization": f"Bearer {child.json()['token']}"}
    assert (await client.get("/auth/me", headers=grandchild)).status_code == 401


async def test_revoking_someone_elses_token(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    ada = bearer_for(idp, keys["a1"], "/users")
    grace = bearer_for(idp, keys["a1"], "/users", sub="grace")
    admin = bearer_for(idp, keys["a1"], "/admins", sub="root")
    made = await client.post("/auth/tokens", json={"name": "x", "scopes": ["read"]}, headers=ada)
    token_id = made.json()["record"]["id"]
    assert (await client.delete(f"/auth/tokens/{token_id}", headers=grace)).status_code == 404
    assert (await client.get("/auth/tokens", headers=grace)).json() == []
    revoked = await client.delete(f"/auth/tokens/{token_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["owner"] == f"{idp.issuer('a')}|user-1"
    used = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await client.get("/auth/me", headers=used)).status_code == 401


async def test_identity_provider_down_is_a_503(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    idp.routes.clear()  # the JWKS is gone
    response = await client.get("/auth/me", headers=bearer_for(idp, keys["a1"], "/users"))
    assert response.status_code == 503
    assert "message" in response.json()


async def test_predict_routes_with_a_base_path(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve(base_path="/deepaas")
    user = bearer_for(idp, keys["a1"], "/users")
    url = "/deepaas/v2/models/echo/predict/"
    assert (await client.post(url, json={"text": "x"})).status_code == 401
    assert (await client.post(url, json={"text": "x"}, headers=user)).status_code == 200
    assert (await client.get("/deepaas/v2/")).status_code == 200
    assert (await client.get("/deepaas/auth/me", headers=user)).status_code == 200
    login = await client.get("/deepaas/auth/login")
    assert "redirect_uri=http%3A%2F%2Ftest%2Fdeepaas%2Fauth%2Fcallback" in login.headers["location"]


# -- auth off, configuration --------------------------------------------------------------------


async def test_auth_off_installs_nothing(serve: AppFactory) -> None:
    client = await serve("echo")
    app = client._transport.app  # type: ignore[attr-defined]
    assert not any(m.cls is AuthenticationMiddleware for m in app.user_middleware)
    assert getattr(app.state, "authenticator", None) is None
    assert (await client.post("/v2/models/echo/predict/", json={"text": "x"})).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
    assert (await client.get("/auth/me")).status_code == 404


def test_oidc_without_issuers_is_a_startup_error(tmp_path: Path) -> None:
    settings = Settings(auth="oidc", database_url=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ValueError, match="MODELPORT_OIDC"):
        create_app(settings, ModelRuntime([], settings, ServingMetrics()))
    assert not (tmp_path / "x.db").exists(), "no database before the configuration is valid"


def test_oidc_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"issuers": [{"issuer": "https://login.example/realms/x", "audience": "mp"}]}
    monkeypatch.setenv("MODELPORT_AUTH", "oidc")
    monkeypatch.setenv("MODELPORT_OIDC", json.dumps(config))
    monkeypatch.setenv("MODELPORT_OIDC_CLIENT_ID", "dash")
    settings = Settings()
    assert settings.auth == "oidc"
    assert settings.oidc is not None
    assert settings.oidc.issuers[0].issuer == "https://login.example/realms/x"
    assert settings.oidc.issuers[0].audience == "mp"
    assert settings.oidc_client_id == "dash"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "127.0.0.1"])
def test_serve_binds_anywhere_with_auth_on(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    from modelport.cli.serve import check_bind

    oidc = {"issuers": [{"issuer": "https://login.example/realms/x"}]}
    check_bind(Settings.model_validate({"host": host, "auth": "oidc", "oidc": oidc}))
    assert "WITHOUT AUTHENTICATION" not in capsys.readouterr().err


def test_serve_refuses_auth_on_without_issuers(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from modelport.cli.serve import check_bind

    with pytest.raises(typer.Exit) as caught:
        check_bind(Settings(auth="oidc"))
    assert caught.value.exit_code == 2
    assert "MODELPORT_OIDC" in capsys.readouterr().err
