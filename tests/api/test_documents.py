"""OpenAPI 3.1, Swagger 2.0 (the fields DEEPaaS clients read), Swagger UI from packaged assets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppFactory


@pytest.fixture
async def documents(serve: AppFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    client = await serve("legacy", "echo", "slow")
    openapi = (await client.get("/openapi.json")).json()
    swagger = (await client.get("/swagger.json")).json()
    return openapi, swagger


async def test_openapi_31_documents_every_model(documents) -> None:
    openapi, _ = documents
    assert openapi["openapi"].startswith("3.1")
    paths = openapi["paths"]
    for name in ("legacy", "echo", "slow"):
        assert "post" in paths[f"/v2/models/{name}/predict/"]
    for path in ("/", "/v2/", "/v2/models/", "/v2/models/{name}/", "/v2/debug/", "/metrics"):
        assert path in paths, path
    echo = paths["/v2/models/echo/predict/"]["post"]
    form = echo["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["upload"]["anyOf"][0] == {"type": "string", "format": "binary"}
    assert form["properties"]["times"]["maximum"] == 5
    assert form["required"] == ["text"]
    schemas = openapi["components"]["schemas"]
    colour = form["properties"]["colour"]
    assert colour["$ref"] == "#/components/schemas/EchoColour"
    assert schemas["EchoColour"]["enum"] == ["red", "green"]
    ok = echo["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/EchoPredictionResponse"}
    assert "$defs" not in str(openapi), "every $ref must resolve inside the document"
    for code in ("400", "404", "413", "415", "422", "500", "503", "504"):
        assert code in echo["responses"]
    slow = paths["/v2/models/slow/predict/"]["post"]
    assert set(slow["responses"]["200"]["content"]) == {
        "application/json",
        "text/plain",
        "image/png",
    }
    assert slow["parameters"][0]["in"] == "header"
    legacy_ok = paths["/v2/models/legacy/predict/"]["post"]["responses"]["200"]
    assert legacy_ok["content"]["application/json"]["schema"]["$ref"].endswith(
        "LegacyPredictionResponse"
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_every_reference_resolves(documents) -> None:
    openapi, swagger = documents
    for ref in _refs(openapi):
        assert ref.removeprefix("#/components/schemas/") in openapi["components"]["schemas"], ref
    for ref in _refs(swagger):
        assert ref.removeprefix("#/definitions/") in swagger["definitions"], ref


async def test_swagger2_has_the_fields_deepaas_clients_read(documents) -> None:
    _, swagger = documents
    assert swagger["swagger"] == "2.0"
    op = swagger["paths"]["/v2/models/legacy/predict/"]["post"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["data"] == {
        "name": "data",
        "in": "formData",
        "required": False,
        "description": "An image",
        "type": "file",
    }
    assert params["number"]["in"] == "query"
    assert (params["number"]["minimum"], params["number"]["maximum"]) == (0, 100)
    assert params["flavour"]["enum"] == ["foo", "bar"]
    assert params["flavour"]["default"] == "foo"
    assert params["names"]["type"] == "array"
    assert params["names"]["collectionFormat"] == "multi"
    assert params["accept"]["in"] == "query"  # DEEPaaS reads it there (no location declared)
    assert params["accept"]["enum"] == ["application/json", "text/plain", "image/png", "*/*"]
    assert op["produces"] == ["application/json", "text/plain", "image/png", "*/*"]
    assert op["consumes"] == ["multipart/form-data"]
    assert op["responses"]["200"]["schema"] == {"$ref": "#/definitions/LegacyPredictionResponse"}
    definitions = swagger["definitions"]
    assert set(definitions["ModelPredictionResponse"]["properties"]) >= {"number", "size"}
    echo = {
        p["name"]: p for p in swagger["paths"]["/v2/models/echo/predict/"]["post"]["parameters"]
    }
    assert echo["colour"]["enum"] == ["red", "green"]
    assert echo["upload"]["type"] == "file"
    assert echo["times"]["type"] == "integer"
    slow = swagger["paths"]["/v2/models/slow/predict/"]["post"]
    assert slow["responses"]["200"]["schema"]
    assert "x-nullable" not in str(definitions["ArgumentErrors"])


async def test_swagger_ui_is_served_without_a_cdn(serve: AppFactory) -> None:
    client = await serve("legacy")
    page = await client.get("/api")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert (await client.get("/docs")).status_code == 200
    bundle = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000
    assert (await client.get("/static/swagger-ui/swagger-ui.css")).status_code == 200
    redirect = await client.get("/ui")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/api"


async def test_docs_can_be_switched_off(serve: AppFactory) -> None:
    client = await serve("legacy", docs=False)
    assert (await client.get("/api")).status_code == 404
    assert (await client.get("/swagger.json")).status_code == 200
