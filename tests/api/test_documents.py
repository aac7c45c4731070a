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


def _raising_metadata() -> dict[str, str]:
    raise RuntimeError("metadata service down")


def test_documents_survive_a_failing_get_metadata_and_train_accept_keeps_its_choices() -> None:
    # DEEPaaS serves swagger.json without calling get_metadata(); a training's accept is an
    # argument like any other: its own choices, no */* (demo-advanced's train args).
    from types import SimpleNamespace

    from webargs import fields, validate

    from modelport.api.openapi import add_model_paths
    from modelport.api.swagger2 import to_swagger2
    from modelport.contract.deepaas import DeepaasModel

    train_accept = fields.Str(
        required=True,
        metadata={"location": "headers"},
        validate=validate.OneOf(["application/json", "application/pdf"]),
    )
    module = SimpleNamespace(
        get_metadata=_raising_metadata,
        predict=lambda **kw: kw,
        get_train_args=lambda: {"accept": train_accept},
        train=lambda **kw: kw,
    )
    model = DeepaasModel(module, "flaky", "test")
    spec = add_model_paths({"paths": {}}, [model], "")
    swagger = to_swagger2(spec)
    params = swagger["paths"]["/v2/models/flaky/train/"]["post"]["parameters"]
    (accept,) = [p for p in params if p["name"] == "accept"]
    assert (accept["in"], accept["required"]) == ("header", True)
    assert accept["enum"] == ["application/json", "application/pdf"]
    assert "default" not in accept


async def test_an_unexpected_500_closes_the_connection_as_it_says() -> None:
    # The server drops the connection after an unhandled error; the 500 says "Connection: close"
    # (as DEEPaaS's does) so that a keep-alive client does not reuse it.
    from types import SimpleNamespace

    import httpx

    from modelport.api.app import create_app
    from modelport.contract.deepaas import DeepaasModel
    from modelport.runtime import ModelRuntime
    from modelport.runtime.metrics import ServingMetrics
    from modelport.settings import Settings

    module = SimpleNamespace(get_metadata=_raising_metadata, predict=lambda **kw: kw)
    settings = Settings()
    runtime = ModelRuntime([DeepaasModel(module, "flaky", "test")], settings, ServingMetrics())
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v2/models/flaky/")
        assert response.status_code == 500
        error_id = response.json()["error_id"]
        assert response.json() == {
            "message": f"internal server error (error id {error_id})",
            "error_id": error_id,
        }
        assert response.headers["connection"] == "close"
        assert (await client.get("/swagger.json")).status_code == 200
