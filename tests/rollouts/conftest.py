"""Rollout fixtures: a real catalog on SQLite, real worker processes, the gateway's HTTP path
with the rollout router and the rollout routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelport.api.errors import install_error_handlers
from modelport.api.gateway import PredictFastPath, gateway_router
from modelport.api.rollouts import rollouts_router
from modelport.catalog.service import CatalogService
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.pool import ModelPool
from modelport.rollouts.router import RolloutRouter
from modelport.rollouts.service import RolloutService
from modelport.settings import Settings
from tests.gateway.conftest import catalog, children, publish

__all__ = ["catalog"]  # the fixture, shared with the gateway tests

DOUBLE = "tests.gateway.models:Double"
DOUBLE_TOO = "tests.gateway.models:DoubleToo"
TRIPLE = "tests.gateway.models:Triple"
FAULTY = "tests.gateway.models:Faulty"


@dataclass
class Rollouts:
    """The app's client, its pool, the rollout router and service."""

    client: httpx.AsyncClient
    pool: ModelPool
    router: RolloutRouter
    service: RolloutService

    def sample(self, name: str, **labels: str) -> float:
        """A metric's value (0 when absent)."""
        return self.pool.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def published(catalog: CatalogService) -> CatalogService:
    """Module ``calc``: 1.0.0 doubles, 1.1.0 doubles too, 1.2.0 triples, 2.0.0 fails."""
    publish(catalog, "calc", DOUBLE, "1.0.0")
    publish(catalog, "calc", DOUBLE_TOO, "1.1.0")
    publish(catalog, "calc", TRIPLE, "1.2.0")
    publish(catalog, "calc", FAULTY, "2.0.0")
    return catalog


@pytest.fixture
async def rollouts(tmp_path: Path, published: CatalogService) -> AsyncIterator[Rollouts]:
    """The gateway over ``published``, with rollouts; no process is left afterwards."""
    before = children()
    settings = Settings(data_dir=tmp_path / "data", max_loaded_models=6)
    pool = ModelPool(settings, published, GatewayMetrics())
    service = RolloutService(published)
    router = RolloutRouter(pool, service, pool.metrics)
    app = FastAPI()
    install_error_handlers(app, settings.debug)
    app.include_router(gateway_router(pool, published, settings, None, rollouts=router))
    app.include_router(rollouts_router(service, settings, router))
    app.add_middleware(PredictFastPath, pool=pool, settings=settings, rollouts=router)
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60
                )
            )
            yield Rollouts(client, pool, router, service)
    finally:
        await router.close()
        await pool.close()
    assert children() - before == set()
