"""Bearer credentials through the real HTTP path: OIDC access tokens and API tokens, refused
with 401/403 and a JSON message (never echoing the token), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt

from tests.fixtures.oidc_provider import (
    AuthAppFactory,
    Idp,
    Key,
    auth_serve,
    claims_for,
    idp,
    keys,
    rsa_key,
)
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url

__all__ = ["auth_serve", "idp", "keys", "postgresql_url", "sqlite_url", "store_url"]

PREDICT = "/v2/models/echo/predict/"
SECRETISH = "subject-with-a-very-identifying-name"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(idp: Idp, key: Key, **claims: Any) -> str:
    return key.sign(claims_for(idp.issuer("a"), **{"groups": ["/users"], **claims}))


def assert_refused(response: httpx.Response, status: int, *hidden: str) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"message"}
    assert response.json()["message"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for text in hidden:
        assert text not in response.text


async def predict(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(PREDICT, json={"text": "hi"}, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forged_tokens(idp: Idp, keys: dict[str, Key]) -> dict[str, str]:
    """Every kind of bad OIDC token, by name."""
    now = int(time.time())
    iss = idp.issuer("a")
    good = user_token(idp, keys["a1"], sub=SECRETISH)
    header, _, signature = good.split(".")
    tampered = _b64(json.dumps(claims_for(iss, sub="root", groups=["/admins"])).encode())
    return {
        "expired": user_token(idp, keys["a1"], sub=SECRETISH, iat=now - 900, exp=now - 300),
        "not yet valid": user_token(idp, keys["a1"], sub=SECRETISH, nbf=now + 600),
        "wrong audience": user_token(idp, keys["a1"], sub=SECRETISH, aud="someone-else"),
        "wrong issuer": user_token(idp, keys["a1"], sub=SECRETISH, iss=idp.issuer("b")),
        "alg none": jwt.encode(
            claims_for(iss, sub=SECRETISH, groups=["/users"]), "", algorithm="none"
        ),
        "another key": user_token(idp, keys["evil"], sub=SECRETISH),
        "unknown key": user_token(idp, rsa_key("zz"), sub=SECRETISH),
        "tampered payload": f"{header}.{tampered}.{signature}",
        "garbage": "not-a-token",
    }


async def test_a_valid_oidc_token_works(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    response = await predict(client, bearer(user_token(idp, keys["a1"])))
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "hi"


async def test_bad_oidc_tokens_are_refused_with_401(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    for name, token in forged_tokens(idp, keys).items():
        response = await predict(client, bearer(token))
        assert response.status_code == 401, name
        assert_refused(response, 401, token, SECRETISH)
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}):
        assert_refused(await predict(client, headers), 401)


async def test_a_token_without_the_role_is_forbidden(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key]
) -> None:
    client = await auth_serve()
    nobody = keys["a1"].sign(claims_for(idp.issuer("a"), groups=["/elsewhere"]))
    assert_refused(await predict(client, bearer(nobody)), 403, nobody)
    assert "'user' role" in (await predict(client, bearer(nobody))).json()["message"]
    # authenticated, though: /auth/me answers
    me = await client.get("/auth/me", headers=bearer(nobody))
    assert me.status_code == 200
    assert me.json()["roles"] == ["group:elsewhere"]


async def test_api_tokens_matrix(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key], store_url: str
) -> None:
    client = await auth_serve(database_url=store_url)
    oidc = bearer(user_token(idp, keys["a1"]))

    async def new_token(scopes: list[str], days: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": "ci", "scopes": scopes}
        if days is not None:
            body["expires_in_days"] = days
        response = await client.post("/auth/tokens", json=body, headers=oidc)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    predictor = await new_token(["predict"])
    assert (await predict(client, bearer(predictor["token"]))).status_code == 200
    # lacking the scope: 403
    reader = await new_token(["read"])
    refused = await predict(client, bearer(reader["token"]))
    assert_refused(refused, 403, reader["token"])
    assert "'predict' scope" in refused.json()["message"]
    assert (await client.get("/v2/models/", headers=bearer(reader["token"]))).status_code == 200
    # revoked: 401
    revoke = await client.delete(f"/auth/tokens/{predictor['record']['id']}", headers=oidc)
    assert revoke.status_code == 200
    assert revoke.json()["revoked_at"] is not None
    assert_refused(await predict(client, bearer(predictor["token"])), 401, predictor["token"])
    # a wrong secret for a real id, and an unknown id: 401
    token_id = reader["record"]["id"]
    assert_refused(await predict(client, bearer(f"mp_{token_id}_{'A' * 43}")), 401)
    assert_refused(await predict(client, bearer("mp_0123456789abcdef_x")), 401)


async def test_an_expired_api_token_is_refused(
    auth_serve: AuthAppFactory, idp: Idp, keys: dict[str, Key], tmp_path: Any
) -> None:
    from datetime import timedelta

    from modelport.auth.tokens import TokenStore
    from modelport.db import connect

    url = f"sqlite:///{tmp_path}/expiry.db"
    client = await auth_serve(database_url=url)
    engine = connect(url)
    try:
        issued = TokenStore(engine).issue(
            "user-1", "old", ["predict"], timedelta(seconds=-1), roles=["user"]
        )
    finally:
        engine.dispose()
    assert_refused(await predict(client, bearer(issued.token)), 401, issued.token)
