"""Shared fixtures: the test models' site dir on sys.path, an in-process app factory."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.api import create_app
from modelport.contract import discovery
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings

FIXTURE_SITE = Path(__file__).parent / "fixtures" / "site"
if str(FIXTURE_SITE) not in sys.path:
    # the test models and their entry points (a .dist-info) become discoverable
    sys.path.insert(0, str(FIXTURE_SITE))


@pytest.fixture(autouse=True, scope="session")
def _data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["MODELPORT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that must find the test models."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURE_SITE), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


AppFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve() -> AsyncIterator[AppFactory]:
    """Build the real app for some models and give an httpx client talking to it in-process."""
    async with AsyncExitStack() as stack:

        async def make(*specs: str, **settings: Any) -> httpx.AsyncClient:
            config = Settings(**settings)
            runtime = ModelRuntime([discovery.load(s) for s in specs], config, ServingMetrics())
            runtime.warm_all()
            app = create_app(config, runtime)
            # the lifespan, as a server runs it: closing it removes the upload directories
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://test")
            )

        yield make
