"""Versions, model list and metadata: DEEPaaS 2.6 shapes, trailing slashes, base path, errors."""

from __future__ import annotations

import pytest

from tests.conftest import AppFactory

VERSIONS = {
    "versions": [
        {
            "version": "stable",
            "id": "v2",
            "links": [{"rel": "self", "type": "application/json", "href": "/v2/"}],
        }
    ],
    "links": [
        {"rel": "help", "type": "text/html", "href": "/api"},
        {"rel": "describedby", "type": "application/json", "href": "/swagger.json"},
    ],
}


async def test_root_lists_the_v2_version(serve: AppFactory) -> None:
    client = await serve("legacy")
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == VERSIONS
    v2 = await client.get("/v2/")
    assert v2.json() == VERSIONS["versions"][0]


@pytest.mark.parametrize("path", ["/v2/models/", "/v2/models"])
async def test_model_list_has_legacy_metadata_over_defaults(serve: AppFactory, path: str) -> None:
    client = await serve("legacy", "echo")
    response = await client.get(path)
    assert response.status_code == 200
    models = {m["name"]: m for m in response.json()["models"]}
    assert models["legacy"] == {
        "id": "legacy",
        "name": "legacy",
        "links": [{"rel": "self", "href": "/v2/models/legacy"}],
        "description": "A legacy test module",
        "author": "DEEP",
        "license": "Apache-2.0",
        "version": "0.3",
        "datasets": ["demo"],
    }
    echo = models["echo"]
    assert echo["description"] == "Echo the arguments back (and describe an uploaded file)."
    assert echo["version"] == "2.1.0"
    assert echo["author"] == "Ada, Grace"
    assert echo["links"][0] == {"rel": "self", "href": "/v2/models/echo"}
    assert {"rel": "source_code", "href": "https://example.org/echo"} in echo["links"]


async def test_module_without_get_metadata_gets_deepaas_defaults(serve: AppFactory) -> None:
    client = await serve("legacy-bare")
    meta = (await client.get("/v2/models/legacy-bare")).json()
    assert meta["id"] == "0"
    assert meta["name"] == "legacy-bare"
    assert "Could not load description" in meta["description"]


@pytest.mark.parametrize("path", ["/v2/models/legacy", "/v2/models/legacy/"])
async def test_model_metadata_with_and_without_slash(serve: AppFactory, path: str) -> None:
    client = await serve("legacy")
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json()["name"] == "legacy"


async def test_unknown_model_is_json_404(serve: AppFactory) -> None:
    client = await serve("legacy")
    for method, path in [
        ("GET", "/v2/models/nope/"),
        ("POST", "/v2/models/nope/predict/"),
        ("GET", "/no/such/path"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"
        assert "message" in response.json()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_wrong_method_is_json_405(serve: AppFactory, method: str) -> None:
    client = await serve("legacy")
    response = await client.request(method, "/v2/models/")
    assert response.status_code == 405
    assert response.json()["message"] == f"method {method} not allowed on /v2/models/"
    get_predict = await client.get("/v2/models/legacy/predict/")
    assert get_predict.status_code == 405


async def test_base_path_prefixes_every_route_and_link(serve: AppFactory) -> None:
    client = await serve("legacy", base_path="/deepaas/")
    root = (await client.get("/deepaas")).json()
    assert root["versions"][0]["links"][0]["href"] == "/deepaas/v2/"
    assert root["links"][1]["href"] == "/deepaas/swagger.json"
    models = (await client.get("/deepaas/v2/models/")).json()["models"]
    assert models[0]["links"][0]["href"] == "/deepaas/v2/models/legacy"
    predict = await client.post("/deepaas/v2/models/legacy/predict/", params={"number": 3})
    assert predict.status_code == 200
    for path in (
        "/deepaas/openapi.json",
        "/deepaas/swagger.json",
        "/deepaas/api",
        "/deepaas/health/ready",
        "/deepaas/metrics",
    ):
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/v2/models/")).status_code == 404
