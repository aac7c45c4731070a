"""Health endpoints and readiness after warm()."""

from __future__ import annotations

from pathlib import Path

import httpx

from modelport.api import create_app
from modelport.contract import discovery
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from tests.conftest import AppFactory


async def test_live_and_ready(serve: AppFactory) -> None:
    client = await serve("echo")
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "models": {"echo": "ready"}}


async def test_not_ready_before_warm_and_warmed_by_the_lifespan(tmp_path: Path) -> None:
    settings = Settings(upload_memory_dir=tmp_path)
    runtime = ModelRuntime([discovery.load("echo")], settings, ServingMetrics())
    app = create_app(settings, runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["models"] == {"echo": "warming"}
        predict = await client.post("/v2/models/echo/predict/", json={"text": "x"})
        assert predict.status_code == 503
        assert "warming" in predict.json()["message"]
        async with app.router.lifespan_context(app):
            assert (await client.get("/health/ready")).status_code == 200
            ok = await client.post(
                "/v2/models/echo/predict/", data={"text": "x"}, files={"upload": ("a", b"1")}
            )
            assert ok.status_code == 200
            assert ok.json()["size"] == 1
            assert len(list(tmp_path.iterdir())) == 1  # the server's private upload directory
        assert list(tmp_path.iterdir()) == [], "stopping the server removes it"
    assert runtime.get("echo").model.instance.warmed  # type: ignore[attr-defined]
