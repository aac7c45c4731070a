"""Browser sign-in needs no sticky sessions: a sign-in started on one replica finishes on the
other, the session either issues works on both, and a logout on one ends it on both. A real
OIDC provider on 127.0.0.1 (tests/fixtures/oidc_provider.py); two platform replicas on one
PostgreSQL database, behind one origin (``http://test``) as behind a load balancer."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from tests.apps.conftest import ReplicaFactory
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, idp, keys

__all__ = ["idp", "keys"]  # fixtures, re-exported

ORIGIN = "http://test"


def cookie(response: httpx.Response, name: str) -> str:
    """The value of the cookie ``name`` that ``response`` sets."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";")[0]
    raise AssertionError(f"no {name} cookie in {response.headers}")


async def test_a_sign_in_begun_on_one_replica_finishes_on_the_other(
    replica: ReplicaFactory, idp: Idp, keys: dict[str, Key], postgresql_url: str
) -> None:
    idp.publish("a", keys["a1"])
    idp.sign_in_as("a", groups=["/users"], name="Ada")
    settings = auth_settings(idp, postgresql_url)
    async with (
        replica("a", base_url=ORIGIN, **settings) as a,
        replica("b", base_url=ORIGIN, **settings) as b,
    ):
        # the load balancer sends /auth/login to A...
        login = await a.http.get("/auth/login", params={"next": "/dashboard/"})
        assert login.status_code == 302, login.text
        binding = {"Cookie": f"modelport_signin={cookie(login, 'modelport_signin')}"}
        async with httpx.AsyncClient() as browser:  # the provider approves
            approved = await browser.get(login.headers["Location"])
        assert approved.status_code == 302, approved.text
        back = urlsplit(approved.headers["Location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == f"{ORIGIN}/auth/callback"
        # ...and the provider's redirect to B, with the browser's cookie
        done = await b.http.get(f"{back.path}?{back.query}", headers=binding)
        assert done.status_code == 302, done.text
        assert done.headers["Location"] == "/dashboard/"
        session = {"Cookie": f"modelport_session={cookie(done, 'modelport_session')}"}
        # the same callback again, on A: consumed once, whichever replica took it
        replay = await a.http.get(f"{back.path}?{back.query}", headers=binding)
        assert replay.status_code == 400

        # the session B issued is A's too
        for either in (a, b):
            me = await either.http.get("/auth/me", headers=session)
            assert me.status_code == 200, me.text
            assert (me.json()["subject"], me.json()["name"]) == ("user-1", "Ada")
        listed = (await a.http.get("/auth/tokens", headers=session)).json()
        assert [t["name"] for t in listed] == ["browser session"]

        # logged out on A: B refuses it at once
        out = await a.http.post("/auth/logout", headers={**session, "Origin": ORIGIN})
        assert out.status_code == 204
        assert (await b.http.get("/auth/me", headers=session)).status_code == 401
