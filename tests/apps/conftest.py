"""Replicas of the platform for tests: each a separately built ``assemble_platform`` app with an
engine of its own, on one PostgreSQL database, run in its lifespan behind its own HTTP client.

By default they share one catalog artifact store (a directory, as replicas share a mounted
volume or a bucket) and each has a data directory of its own, as replicas on different hosts do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelport.apps.platform import assemble_platform
from modelport.settings import Settings
from tests.jobs.conftest import postgresql_url

__all__ = ["postgresql_url"]


@dataclass
class Replica:
    """A running replica: its app, a client to it, its settings."""

    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings


ReplicaFactory = Callable[..., AbstractAsyncContextManager[Replica]]


@pytest.fixture
def replica(tmp_path: Path, postgresql_url: str) -> ReplicaFactory:
    """``replica(name, **settings)``: start one (its data dir ``tmp_path/name``)."""

    @asynccontextmanager
    async def run(
        name: str, base_url: str = "http://127.0.0.1", **overrides: Any
    ) -> AsyncIterator[Replica]:
        given: dict[str, Any] = {
            "data_dir": tmp_path / name,
            "database_url": postgresql_url,
            "catalog_artifacts_url": str(tmp_path / "shared-catalog"),
            "replica_name": name,
            **overrides,
        }
        settings = Settings(**given)
        app, _ = assemble_platform(settings, seed=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
        ):
            yield Replica(app, http, settings)

    return run
