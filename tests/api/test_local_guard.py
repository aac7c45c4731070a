"""No-auth mode's guard: foreign Host names (DNS rebinding) and cross-site writes are refused.

In-process: the guard is the app's. (A real server on 127.0.0.1 is in
``tests/cli/test_serve_limits.py``.) The test client's base URL, ``http://test``, is the address
its requests arrive at (the ASGI ``server``), so ``Host: test`` passes as a real server's IP does.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from modelport.api.local_guard import LocalGuard, host_name, install_local_guard
from modelport.settings import Settings
from tests.conftest import AppFactory

PREDICT = "/v2/models/echo/predict/?text=a"


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LOCALHOST.", "test"],
)
async def test_loopback_names_and_the_arrival_address_are_answered(
    serve: AppFactory, host: str
) -> None:
    client = await serve("echo")
    assert (await client.get("/v2/models/", headers={"host": host})).status_code == 200
    assert (await client.post(PREDICT, headers={"host": host})).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example"])
async def test_another_host_name_is_400_naming_the_setting(serve: AppFactory, host: str) -> None:
    client = await serve("echo")
    for response in (
        await client.get("/v2/models/", headers={"host": host}),
        await client.post(PREDICT, headers={"host": host}),
        await client.get("/health/live", headers={"host": host}),
    ):
        assert response.status_code == 400
        assert "evil.example" in response.json()["message"]
        assert "allowed_hosts" in response.json()["message"]
        assert response.headers["x-content-type-options"] == "nosniff"  # security headers too


async def test_allowed_hosts_the_bind_host_and_the_public_url_are_answered(
    serve: AppFactory,
) -> None:
    client = await serve(
        "echo",
        allowed_hosts=["models.lan"],
        host="10.1.2.3",
        public_url="https://models.example.org/mp",
    )
    for host in ("models.lan", "models.lan:8080", "10.1.2.3:5000", "models.example.org"):
        assert (await client.get("/v2/models/", headers={"host": host})).status_code == 200
    assert (await client.get("/v2/models/", headers={"host": "other.lan"})).status_code == 400
    anyone = await serve("echo", allowed_hosts=["*"])
    assert (await anyone.get("/v2/models/", headers={"host": "other.lan"})).status_code == 200


async def test_cross_site_writes_are_403_naming_the_reason(serve: AppFactory) -> None:
    client = await serve("echo")
    foreign = await client.post(PREDICT, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert "Origin 'http://evil.example'" in foreign.json()["message"]
    another_port = await client.post(PREDICT, headers={"origin": "http://test:8080"})
    assert another_port.status_code == 403  # a page of another local server
    opaque = await client.post(PREDICT, headers={"origin": "null"})
    assert opaque.status_code == 403  # sandboxed frames, files, cross-site redirects
    fetch = await client.post(PREDICT, headers={"sec-fetch-site": "cross-site"})
    assert fetch.status_code == 403
    assert "Sec-Fetch-Site" in fetch.json()["message"]
    for method in ("put", "patch", "delete"):
        sent = await client.request(method, "/v2/models/", headers={"origin": "http://evil.ex"})
        assert sent.status_code == 403


async def test_same_origin_browsers_curl_and_reads_keep_working(serve: AppFactory) -> None:
    client = await serve("echo")
    same = {"origin": "http://test", "sec-fetch-site": "same-origin"}
    assert (await client.post(PREDICT, headers=same)).status_code == 200  # the dashboard
    assert (await client.post(PREDICT)).status_code == 200  # curl, the Python client
    user_typed = {"sec-fetch-site": "none"}
    assert (await client.post(PREDICT, headers=user_typed)).status_code == 200
    # reads are not writes: another site may link here (it cannot read the answer: no CORS)
    foreign = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    assert (await client.get("/v2/models/", headers=foreign)).status_code == 200


async def test_behind_a_tls_proxy_the_browsers_origin_matches(serve: AppFactory) -> None:
    client = await serve("echo", allowed_hosts=["models.example.org"])
    proxied = {"host": "models.example.org", "origin": "https://models.example.org"}
    assert (await client.post(PREDICT, headers=proxied)).status_code == 200
    public = await serve("echo", public_url="https://models.example.org")
    direct = {"host": "127.0.0.1:5000", "origin": "https://models.example.org"}
    assert (await public.post(PREDICT, headers=direct)).status_code == 200


def test_the_guard_is_installed_only_without_authentication() -> None:
    off, oidc = FastAPI(), FastAPI()
    install_local_guard(off, Settings(auth="off"))
    install_local_guard(oidc, Settings(auth="oidc"))
    assert [m.cls for m in off.user_middleware] == [LocalGuard]
    assert oidc.user_middleware == []


@pytest.mark.parametrize(
    ("authority", "name"),
    [
        ("LocalHost:5000", "localhost"),
        ("[::1]:5000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.org.", "example.org"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_host_names_are_compared_without_port_case_or_brackets(authority: str, name: str) -> None:
    assert host_name(authority) == name
