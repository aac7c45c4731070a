"""What crosses between callers and module code, through a real worker of a hostile module."""

from __future__ import annotations

import pytest

from modelport.catalog.service import CatalogService
from modelport.errors import ModelError
from modelport.gateway.exposure import module_document, request_headers, response_headers
from tests.gateway.conftest import GatewayFactory, publish

HOSTILE = "mp_fixtures.hostile:Hostile"
CALLER = {
    "Authorization": "Bearer caller-secret-token",
    "Cookie": "modelport_session=caller-session",
    "X-Forwarded-For": "10.1.2.3",
    "X-Api-Key": "k",
    "Accept": "application/json",
}


def test_only_the_contracts_headers_are_forwarded() -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in CALLER.items()]
    headers += [(b"content-type", b"application/json"), (b"host", b"platform")]
    assert request_headers(headers) == [
        (b"accept", b"application/json"),
        (b"content-type", b"application/json"),
        (b"host", b"platform"),
    ]


def test_module_responses_are_data_with_the_platforms_policy() -> None:
    sent = response_headers(
        [
            (b"Content-Type", b"application/json"),
            (b"Set-Cookie", b"modelport_session=stolen"),
            (b"Location", b"https://evil.example/"),
            (b"Access-Control-Allow-Origin", b"*"),
        ]
    )
    assert dict(sent) == {
        b"content-type": b"application/json",
        b"content-security-policy": b"default-src 'none'; sandbox",
        b"x-content-type-options": b"nosniff",
        b"cache-control": b"no-store",
    }
    html = dict(response_headers([(b"content-type", b"text/html; charset=utf-8")]))
    assert html[b"content-disposition"] == b"attachment"


def test_a_module_document_must_be_a_json_object() -> None:
    assert module_document(200, b'{"openapi": "3.1.0"}', "m") == {"openapi": "3.1.0"}
    for status, body in [(200, b"<html></html>"), (200, b"[1]"), (500, b"{}")]:
        with pytest.raises(ModelError, match="module 'm'"):
            module_document(status, body, "m")


async def test_a_hostile_module_gets_no_credentials_and_cannot_set_cookies(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "hostile", HOSTILE)
    gw = await gateway()
    url = "/v2/models/hostile/predict/"

    seen = await gw.client.post(url, json={"probe": "headers"}, headers=CALLER)
    assert seen.status_code == 200
    headers = seen.json()["headers"]
    assert not {"authorization", "cookie", "x-forwarded-for", "x-api-key"} & set(headers)
    assert seen.json()["client"] is None  # nor the caller's address
    assert "set-cookie" not in seen.headers
    assert "access-control-allow-origin" not in seen.headers
    assert seen.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert seen.headers["x-content-type-options"] == "nosniff"

    page = await gw.client.post(url, json={"probe": "html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"] == "attachment"
    assert "set-cookie" not in page.headers

    document = await gw.client.get("/v2/models/hostile/openapi.json")
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/json"
    assert "set-cookie" not in document.headers
    assert document.json()["openapi"].startswith("3.1")
    metadata = await gw.client.get("/v2/models/hostile/versions/1.0.0/")
    assert metadata.json()["name"] == "hostile"
    assert "set-cookie" not in metadata.headers
