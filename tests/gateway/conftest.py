"""Gateway fixtures: a real catalog on SQLite, real worker processes, the real HTTP path."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelport.api.errors import install_error_handlers
from modelport.api.gateway import Authorize, PredictFastPath, gateway_router
from modelport.catalog.domain import ArtifactRecord, VersionRecord
from modelport.catalog.metadata import validate_metadata
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.pool import ModelPool
from modelport.sandbox import Sandbox
from modelport.settings import Settings

META = validate_metadata(
    {
        "metadata_version": "2.0.0",
        "title": "A test module",
        "summary": "A module the gateway tests publish.",
        "description": "Served on demand by the gateway tests.",
        "links": {"source_code": "https://example.org/module"},
        "libraries": [],
        "tasks": [],
        "categories": [],
        "tags": ["test"],
        "license": "MIT",
    }
)


def publish(
    catalog: CatalogService,
    name: str,
    spec: str,
    version: str = "1.0.0",
    files: dict[str, bytes] | None = None,
) -> VersionRecord:
    """Publish a module version whose code is ``spec``, with some artifacts."""
    records = []
    for file_name, data in (files or {}).items():
        stored = catalog.artifacts.put(data)
        records.append(ArtifactRecord(name=file_name, sha256=stored.sha256, size=stored.size))
    return catalog.registry.publish(
        name, version, META, load_spec=spec, package="mp_fixtures", artifacts=records
    )


def children() -> set[int]:
    """Our child processes, zombies included (read from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid():
            found.add(int(entry))
    return found


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``check()`` holds, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def catalog(tmp_path: Path) -> CatalogService:
    """An empty catalog on SQLite, artifacts in tmp_path."""
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


class Gateway:
    """A gateway app in-process: its client, pool and spool directory."""

    def __init__(self, client: httpx.AsyncClient, pool: ModelPool, spool: Path) -> None:
        self.client = client
        self.pool = pool
        self.spool = spool

    def sample(self, name: str, **labels: str) -> float:
        """A metric's value (0 when absent)."""
        value = self.pool.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway(tmp_path: Path, catalog: CatalogService) -> AsyncIterator[GatewayFactory]:
    """Build gateway apps on ``catalog``; every pool is closed (no process left) afterwards."""
    before = children()
    pools: list[ModelPool] = []
    async with AsyncExitStack() as stack:

        async def make(
            authorize: Authorize | None = None, sandbox: Sandbox | None = None, **overrides: Any
        ) -> Gateway:
            settings = Settings(data_dir=tmp_path / "data", **overrides)
            spool = tmp_path / "spool"
            spool.mkdir(exist_ok=True)
            pool = ModelPool(settings, catalog, GatewayMetrics(), spool_dir=spool, sandbox=sandbox)
            pools.append(pool)
            app = FastAPI()
            install_error_handlers(app, settings.debug)
            app.include_router(gateway_router(pool, catalog, settings, authorize))
            # predictions take the platform's fast path, as in ``modelport up``
            app.add_middleware(PredictFastPath, pool=pool, settings=settings, authorize=authorize)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            )
            return Gateway(client, pool, spool)

        try:
            yield make
        finally:
            for pool in pools:
                await pool.close()
    assert children() - before == set()
