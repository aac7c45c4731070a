"""Rollouts on the whole platform (``modelport up``'s app): the API's answers to mistakes, a
canary with an injected fault rolled back, the shadow recorded, the dashboard and /metrics."""

from __future__ import annotations

import pytest

from modelport.catalog.setup import build_catalog_service
from tests.api.test_platform import PlatformFactory, platform
from tests.gateway.conftest import eventually, publish
from tests.rollouts.conftest import DOUBLE, DOUBLE_TOO, FAULTY

__all__ = ["platform"]

pytestmark = pytest.mark.slow

ROLLOUT = "/catalog/modules/calc/rollouts/stable"
PREDICT = "/v2/models/calc/versions/stable/predict/"


async def test_a_rollout_end_to_end(platform: PlatformFactory) -> None:
    async with platform() as p:
        catalog = build_catalog_service(p.settings)
        publish(catalog, "calc", DOUBLE, "1.0.0")
        publish(catalog, "calc", DOUBLE_TOO, "1.1.0")
        publish(catalog, "calc", FAULTY, "2.0.0")
        publish(catalog, "calc", FAULTY, "3.0.0")
        catalog.registry.yank("calc", "3.0.0", "broken on purpose")
        http = p.http

        async def refused(body: dict[str, object]) -> tuple[int, dict[str, object]]:
            answer = await http.put(ROLLOUT, json=body)
            return answer.status_code, answer.json()

        status, doc = await refused({"primary": "1.0.0", "canary": "1.1.0", "weight": 150})
        assert status == 422
        assert "weight" in str(doc)
        status, doc = await refused({"primary": "1.0.0", "canary": "9.9.9", "weight": 10})
        assert status == 422
        assert "canary" in doc
        status, doc = await refused({"primary": "1.0.0", "shadow": "1.0.0"})
        assert status == 422
        assert "shadow" in doc
        status, doc = await refused({"primary": "1.0.0", "canary": "3.0.0", "weight": 10})
        assert status == 409
        assert "yanked" in str(doc)
        assert (await http.post(f"{ROLLOUT}/weight", json={"weight": 5})).status_code == 404

        policy = {"window_seconds": 60, "min_requests": 5, "error_rate_margin": 0.1}
        body = {"primary": "1.0.0", "canary": "2.0.0", "weight": 50, "shadow": "1.1.0"}
        started = await http.put(ROLLOUT, json={**body, "policy": policy})
        assert started.status_code == 200, started.text
        assert started.json()["shares"] == {"1.0.0": 50.0, "2.0.0": 50.0}

        seen = set()
        for _ in range(200):
            answer = await http.post(PREDICT, json={"x": 3})
            seen.add((answer.headers["x-modelport-model-version"], answer.status_code))
            doc = (await http.get(ROLLOUT)).json()
            if doc["state"] == "rolled back":
                break
        assert doc["state"] == "rolled back", doc
        assert ("2.0.0", 500) in seen
        assert ("1.0.0", 200) in seen
        assert doc["live"]["canary"]["errors"] >= 5
        answer = await http.post(PREDICT, json={"x": 3})
        assert (answer.status_code, answer.json()) == (200, {"y": 6})
        assert answer.headers["x-modelport-model-version"] == "1.0.0"

        def shadowed() -> bool:
            nonlocal doc
            return bool(doc["live"]["shadow"] and doc["live"]["shadow"]["agreed"] > 0)

        await eventually(shadowed, 60)  # the shadow agrees with the primary (never the canary)
        history = (await http.get(f"{ROLLOUT}/history")).json()
        assert [e["action"] for e in history] == ["rollback", "start"]
        assert history[0]["actor"] == "modelport (automatic rollback)"
        assert (history[0]["before"]["weight"], history[0]["after"]["weight"]) == (50, 0)

        page = await http.get("/dashboard/modules/calc", headers={"accept": "text/html"})
        assert page.status_code == 200
        for text in ("Rollouts", "rolled back", "modelport (automatic rollback)", "Promote 2.0.0"):
            assert text in page.text
        metrics = (await http.get("/metrics")).text
        assert 'modelport_gateway_version_requests_total{model="calc",role="canary"' in metrics

        promoted = await http.post(f"{ROLLOUT}/weight", json={"weight": 100})
        assert promoted.json()["state"] == "active"
        assert (await http.post(f"{ROLLOUT}/promote")).json()["primary"] == "2.0.0"
        assert (await http.delete(ROLLOUT)).status_code == 200
        module = (await http.get("/catalog/modules/calc")).json()
        assert module["aliases"]["stable"] == "2.0.0"
        catalog.engine.dispose()
