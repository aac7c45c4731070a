"""Browser sign-in end to end: the code flow with PKCE against a real issuer on 127.0.0.1,
the session cookie, CSRF, logout, and the refusals (denied, bad state, open redirects)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures.oidc_provider import CLIENT_ID, AuthAppFactory, Idp, auth_serve, idp, keys

__all__ = ["auth_serve", "idp", "keys"]

ORIGIN = {"Origin": "http://test"}


async def sign_in(client: httpx.AsyncClient, next_path: str = "/v2/models/") -> httpx.Response:
    """The browser's part: /auth/login, the provider, /auth/callback; the callback's answer."""
    login = await client.get("/auth/login", params={"next": next_path})
    assert login.status_code == 302, login.text
    async with httpx.AsyncClient() as browser:  # the provider is a real server
        approved = await browser.get(login.headers["Location"])
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://test/auth/callback"
    response = await client.get(f"{back.path}?{back.query}")
    client.cookies.clear()  # each test sends the cookie itself, as a header
    return response


def session_of(response: httpx.Response) -> dict[str, str]:
    """A Cookie header with the session the response set."""
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == "modelport_session"
    return {"Cookie": f"modelport_session={rest.split(';')[0]}"}


async def test_the_code_flow_with_pkce_gives_a_session(
    auth_serve: AuthAppFactory, idp: Idp
) -> None:
    client = await auth_serve()
    idp.sign_in_as("a", groups=["/users"], name="Ada")
    login = await client.get("/auth/login", params={"next": "/v2/models/"})
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert login.headers["Location"].startswith(idp.authorization_endpoint("a") + "?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://test/auth/callback"]
    assert query["response_type"] == ["code"]
    assert query["state"][0]
    assert query["nonce"][0]

    done = await sign_in(client)
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == "/v2/models/"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain http here
    # the provider got the PKCE verifier of the challenge it was sent
    form = idp.token_requests[-1]
    assert form["client_id"] == CLIENT_ID
    assert form["redirect_uri"] == "http://test/auth/callback"
    assert "client_secret" not in form

    session = session_of(done)
    me = await client.get("/auth/me", headers=session)
    assert me.status_code == 200
    assert (me.json()["subject"], me.json()["roles"]) == ("user-1", ["group:users", "user"])
    assert me.json()["name"] == "Ada"  # the session remembers who signed in, not just the subject
    assert sorted(me.json()["scopes"]) == ["predict", "read"]
    assert (await client.get("/v2/models/", headers=session)).status_code == 200
    tokens = (await client.get("/auth/tokens", headers=session)).json()
    assert [t["name"] for t in tokens] == ["browser session"]
    assert "token" not in tokens[0]
    assert tokens[0]["session"] is True
    # a token made from the browser is the user's own: it outlives the session
    made = await client.post(
        "/auth/tokens", json={"name": "ci", "scopes": ["read"]}, headers={**session, **ORIGIN}
    )
    assert made.status_code == 201, made.text
    assert made.json()["record"]["parent_id"] is None


async def test_the_callback_works_once(auth_serve: AuthAppFactory, idp: Idp) -> None:
    client = await auth_serve()
    idp.sign_in_as("a", groups=["/users"])
    login = await client.get("/auth/login")
    async with httpx.AsyncClient() as browser:
        back = urlsplit((await browser.get(login.headers["Location"])).headers["Location"])
    first = await client.get(f"{back.path}?{back.query}")
    assert first.status_code == 302
    assert first.headers["Location"] == "/"
    replay = await client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 400
    assert "start again" in replay.json()["message"]


async def test_unsafe_requests_by_cookie_need_this_origin(
    auth_serve: AuthAppFactory, idp: Idp
) -> None:
    client = await auth_serve()
    idp.sign_in_as("a", groups=["/users"])
    session = session_of(await sign_in(client))
    url = "/v2/models/echo/predict/"
    for headers in ({}, {"Origin": "http://evil.example"}, {"Referer": "https://test/x"}):
        refused = await client.post(url, json={"text": "x"}, headers={**session, **headers})
        assert refused.status_code == 403, headers
        assert "cross-site" in refused.json()["message"]
    ok = await client.post(url, json={"text": "x"}, headers={**session, **ORIGIN})
    assert ok.status_code == 200
    referred = {"Referer": "http://test/dashboard"}
    assert (
        await client.post(url, json={"text": "x"}, headers={**session, **referred})
    ).status_code == 200
    # safe methods need no Origin
    assert (await client.get("/auth/me", headers=session)).status_code == 200


async def test_logout_revokes_the_session(auth_serve: AuthAppFactory, idp: Idp) -> None:
    client = await auth_serve()
    idp.sign_in_as("a", groups=["/users"])
    session = session_of(await sign_in(client))
    assert (await client.post("/auth/logout", headers=session)).status_code == 403  # CSRF
    out = await client.post("/auth/logout", headers={**session, **ORIGIN})
    assert out.status_code == 204
    assert 'modelport_session=""' in out.headers["set-cookie"]
    assert "max-age=0" in out.headers["set-cookie"].lower()
    gone = await client.get("/auth/me", headers=session)
    assert gone.status_code == 401
    # logging out without a session is harmless
    assert (await client.post("/auth/logout")).status_code == 204
    # a plain HTML form (no JavaScript) lands on a page of this server, never elsewhere
    landed = await client.post("/auth/logout?next=/dashboard/")
    assert landed.status_code == 303
    assert landed.headers["location"] == "/dashboard/"
    assert (await client.post("/auth/logout?next=https://evil.example/")).status_code == 400


async def test_a_denied_sign_in_is_a_clear_401(auth_serve: AuthAppFactory, idp: Idp) -> None:
    client = await auth_serve()
    idp.deny = "access_denied"
    response = await sign_in(client)
    assert response.status_code == 401
    assert "access_denied" in response.json()["message"]
    assert "set-cookie" not in response.headers


async def test_bad_callbacks(auth_serve: AuthAppFactory, idp: Idp) -> None:
    client = await auth_serve()
    unknown = await client.get("/auth/callback", params={"code": "x", "state": "forged"})
    assert unknown.status_code == 400
    assert unknown.json() == {"message": "unknown or expired sign-in: start again at /auth/login"}
    assert (await client.get("/auth/callback")).status_code == 400
    # a real state with a code the provider never issued: the provider refuses it
    login = await client.get("/auth/login")
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
    refused = await client.get("/auth/callback", params={"code": "made-up", "state": state})
    assert refused.status_code == 401
    assert "invalid_grant" in refused.json()["message"]
    # an odd error code is not echoed
    login = await client.get("/auth/login")
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
    odd = await client.get("/auth/callback", params={"error": "<script>", "state": state})
    assert odd.status_code == 401
    assert "<script>" not in odd.text


async def test_open_redirects_are_refused(auth_serve: AuthAppFactory) -> None:
    client = await auth_serve()
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "evil",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
    ):
        response = await client.get("/auth/login", params={"next": target})
        assert response.status_code == 400, target
        assert "path on this server" in response.json()["message"]
    assert (await client.get("/auth/login", params={"next": "/a?b=c"})).status_code == 302


async def test_the_client_secret_is_sent_when_configured(
    auth_serve: AuthAppFactory, idp: Idp
) -> None:
    client = await auth_serve(oidc_client_secret="s3cret")
    idp.client_secret = "s3cret"
    idp.sign_in_as("a", groups=["/users"])
    assert (await sign_in(client)).status_code == 302
    assert idp.token_requests[-1]["client_secret"] == "s3cret"


async def test_https_public_url_makes_the_cookie_secure(
    auth_serve: AuthAppFactory, idp: Idp
) -> None:
    client = await auth_serve(public_url="https://models.example.org")
    idp.sign_in_as("a", groups=["/users"])
    login = await client.get("/auth/login")
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://models.example.org/auth/callback"]
    binding = login.headers["set-cookie"]
    assert "secure" in binding.lower()  # the sign-in's binding cookie too
    client.cookies.clear()  # a Secure cookie does not travel over this http test client
    async with httpx.AsyncClient() as browser:
        back = urlsplit((await browser.get(login.headers["Location"])).headers["Location"])
    done = await client.get(f"{back.path}?{back.query}", headers={"Cookie": binding.split(";")[0]})
    assert done.status_code == 302, done.text
    assert "secure" in done.headers["set-cookie"].lower()
