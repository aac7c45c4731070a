"""The gateway routes through the real HTTP path: catalog, pool, worker processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fastapi import Request

from modelport.catalog.domain import ModuleRecord
from modelport.catalog.service import CatalogService
from modelport.errors import Forbidden
from tests.conftest import AppFactory
from tests.gateway.conftest import GatewayFactory, publish

ECHO = "mp_fixtures.typed:Echo"
COLD = "x-modelport-cold-start"


@pytest.mark.slow
async def test_first_call_loads_later_calls_are_warm_and_answers_match_serve(
    gateway: GatewayFactory, catalog: CatalogService, serve: AppFactory
) -> None:
    publish(catalog, "echo", ECHO, "2.1.0")
    gw = await gateway()
    local = await serve(ECHO)

    listed = await gw.client.get("/v2/models/")
    assert [m["name"] for m in listed.json()["models"]] == ["echo"]
    about = (await gw.client.get("/v2/models/echo")).json()
    assert about["version"] == "2.1.0"
    assert about["links"][0] == {"rel": "self", "href": "/v2/models/echo"}
    assert gw.pool.loaded() == []  # metadata comes from the catalog

    url = "/v2/models/echo/predict/?text=hi&times=2"
    first = await gw.client.post(url)
    assert first.status_code == 200
    cold = float(first.headers[COLD])
    assert cold > 0
    assert first.headers["server-timing"].startswith("cold-start;dur=")
    assert abs(float(first.headers["server-timing"].split("=")[1]) - cold * 1000) < 1
    assert first.headers["x-modelport-model-version"] == "2.1.0"
    assert gw.sample("modelport_gateway_cold_start_seconds_count", model="echo") == 1
    assert gw.sample("modelport_gateway_models_loaded") == 1

    second = await gw.client.post(url.replace("/predict/", "/predict"))
    assert second.status_code == 200
    assert COLD not in second.headers
    assert second.headers["x-modelport-model-version"] == "2.1.0"
    assert gw.sample("modelport_gateway_cold_start_seconds_count", model="echo") == 1

    expected = await local.post(url)
    for response in (first, second):
        assert response.content == expected.content
        assert response.headers["content-type"] == expected.headers["content-type"]

    # validation errors come back from the worker unchanged
    bad = await gw.client.post("/v2/models/echo/predict/?times=9")
    assert bad.status_code == 422
    assert bad.content == (await local.post("/v2/models/echo/predict/?times=9")).content

    # an upload (multipart), small then spooled to a temporary file
    for size in (10, 3 * 1024 * 1024):
        files = {"upload": ("data.bin", b"\x01" * size, "application/octet-stream")}
        sent = await gw.client.post(url, data={"text": "up"}, files=files)
        assert sent.status_code == 200, sent.text
        assert sent.json()["size"] == size
        assert sent.content == (await local.post(url, data={"text": "up"}, files=files)).content
    assert list(gw.spool.iterdir()) == []  # the spooled body is gone

    # its own OpenAPI document, from the worker
    spec = (await gw.client.get("/v2/models/echo/openapi.json")).json()
    assert "/v2/models/echo/predict/" in spec["paths"]
    assert [w.module for w in gw.pool.loaded()] == ["echo"]


@pytest.mark.slow
async def test_versions_and_aliases_each_run_their_own_version(
    gateway: GatewayFactory, catalog: CatalogService, tmp_path: object
) -> None:
    spec = "tests.gateway.models:Answer"
    publish(catalog, "answer", spec, "1.0.0", {"answer.txt": b"one"})
    publish(catalog, "answer", spec, "2.0.0", {"answer.txt": b"two"})
    catalog.registry.set_alias("answer", "stable", "1.0.0")
    gw = await gateway()

    latest = await gw.client.post("/v2/models/answer/predict")
    assert latest.json()["answer"] == "two"
    assert latest.headers["x-modelport-model-version"] == "2.0.0"
    stable = await gw.client.post("/v2/models/answer/versions/stable/predict/")
    assert stable.json()["answer"] == "one"
    assert stable.headers["x-modelport-model-version"] == "1.0.0"
    assert COLD in stable.headers
    pinned = await gw.client.post("/v2/models/answer/versions/1.0.0/predict")
    assert pinned.json() == stable.json()
    assert COLD not in pinned.headers  # the same worker as 'stable'
    assert stable.json()["model_dir"].endswith("/models/answer/1.0.0")

    about = await gw.client.get("/v2/models/answer/versions/stable/")
    assert about.status_code == 200
    assert about.json()["name"] == "answer"
    assert about.headers["x-modelport-model-version"] == "1.0.0"
    assert sorted(w.version for w in gw.pool.loaded()) == ["1.0.0", "2.0.0"]

    missing = await gw.client.post("/v2/models/answer/versions/9.9.9/predict")
    assert missing.status_code == 404
    assert "9.9.9" in missing.json()["message"]
    assert (await gw.client.post("/v2/models/nope/predict")).status_code == 404


@pytest.mark.slow
async def test_a_module_that_cannot_load_answers_503_naming_the_cause(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "ghost", "mp_fixtures.not_installed:Ghost")
    publish(catalog, "broken-warm", "mp_fixtures.typed:BrokenWarm")
    gw = await gateway()

    ghost = await gw.client.post("/v2/models/ghost/predict/")
    assert ghost.status_code == 503
    message = ghost.json()["message"]
    assert message.startswith("module 'ghost' 1.0.0: its code (load spec")
    assert "cannot be imported here: ModuleNotFoundError" in message
    assert "mp_fixtures.not_installed" in message
    again = await gw.client.post("/v2/models/ghost/predict/")  # within the back-off: no spawn
    assert again.status_code == 503
    assert again.json() == ghost.json()
    assert gw.sample("modelport_gateway_start_failures_total", model="ghost") == 1

    warm = await gw.client.post("/v2/models/broken-warm/predict/?x=1")
    assert warm.status_code == 503
    assert "failed to warm: OSError: weights.bin not found" in warm.json()["message"]
    assert gw.pool.loaded() == []


async def test_bodies_over_the_limit_and_forbidden_modules_load_nothing(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "echo", ECHO)
    publish(catalog, "secret", ECHO)

    async def authorize(request: Request, module: ModuleRecord) -> None:
        if module.name == "secret":
            raise Forbidden(f"you may not use {module.name}")

    gw = await gateway(authorize=authorize, max_upload_size=100)
    big = await gw.client.post("/v2/models/echo/predict/", content=b"x" * 1000)
    assert big.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield b"x" * 60
        yield b"x" * 60

    streamed = await gw.client.post("/v2/models/echo/predict/", content=chunks())
    assert streamed.status_code == 413
    denied = await gw.client.post("/v2/models/secret/predict/?text=a")
    assert denied.status_code == 403
    assert denied.json() == {"message": "you may not use secret"}
    assert (await gw.client.get("/v2/models/secret")).status_code == 403
    listed = await gw.client.get("/v2/models")
    assert [m["name"] for m in listed.json()["models"]] == ["echo"]
    assert gw.pool.loaded() == []


async def test_the_routes_are_documented(gateway: GatewayFactory, catalog: CatalogService) -> None:
    from fastapi import FastAPI

    gw = await gateway()
    app = FastAPI()
    from modelport.api.gateway import gateway_router

    app.include_router(gateway_router(gw.pool, catalog, gw.pool.settings))
    spec = app.openapi()
    predict = spec["paths"]["/v2/models/{name}/versions/{ref}/predict/"]["post"]
    params = {p["name"]: p for p in predict["parameters"]}
    assert "alias (latest, stable)" in params["ref"]["description"]
    assert params["name"]["description"]
    assert "multipart/form-data" in predict["requestBody"]["content"]
    assert json.dumps(spec)  # serialisable
