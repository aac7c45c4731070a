"""The whole platform (``build_platform``) with the pipeline fixture models published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from modelport.apps.platform import build_platform
from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.gateway.conftest import META

#: fixture module → its model (tests/fixtures/site/mp_fixtures/pipes.py)
MODELS = ("split", "shout", "whisper", "count", "invert", "measure")


def publish_models(settings: Settings, *names: str, version: str = "1.0.0") -> None:
    """Publish fixture models as catalog modules of the same names."""
    catalog = build_catalog_service(settings)
    for name in names:
        spec = f"mp_fixtures.pipes:{name.capitalize()}"
        catalog.registry.publish(name, version, META, load_spec=spec, package="mp_fixtures")


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A running platform (no auth) with every fixture model published; its HTTP client."""
    settings = Settings(data_dir=tmp_path / "data")
    publish_models(settings, *MODELS)
    app, _ = build_platform(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http,
    ):
        yield http
