"""The gateway's short-lived cache of catalog records, on a real catalog."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.errors import NotFound
from modelport.gateway.records import CatalogRecords
from modelport.settings import Settings
from tests.gateway.conftest import publish


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_records_are_reused_within_the_ttl_then_read_again(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "cached", "mp_fixtures.typed:Echo", "1.0.0")
    clock = Clock()
    records = CatalogRecords(catalog.registry, ttl=2.0, clock=clock)
    assert (await records.version("cached", "latest")).version == "1.0.0"
    publish(catalog, "cached", "mp_fixtures.typed:Echo", "2.0.0")
    clock.now += 1.0
    assert (await records.version("cached", "latest")).version == "1.0.0"  # still cached
    clock.now += 1.5
    assert (await records.version("cached", "latest")).version == "2.0.0"  # expired: read again
    assert (await records.module("cached")).latest_version == "2.0.0"


async def test_misses_are_not_cached(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    records = CatalogRecords(catalog.registry, ttl=60.0, clock=Clock())
    with pytest.raises(NotFound):
        await records.module("later")
    publish(catalog, "later", "mp_fixtures.typed:Echo")
    assert (await records.module("later")).name == "later"


async def test_ttl_zero_reads_every_time(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "fresh", "mp_fixtures.typed:Echo", "1.0.0")
    records = CatalogRecords(catalog.registry, ttl=0, clock=Clock())
    await records.version("fresh", "latest")
    publish(catalog, "fresh", "mp_fixtures.typed:Echo", "1.1.0")
    assert (await records.version("fresh", "latest")).version == "1.1.0"


class Counting:
    """The real registry, counting the module reads that reach it."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.reads = 0

    def module(self, name: str) -> Any:
        self.reads += 1
        time.sleep(0.05)  # a slow database: the others arrive meanwhile
        return self.registry.module(name)


async def test_concurrent_misses_share_one_load(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "shared", "mp_fixtures.typed:Echo")
    counting = Counting(catalog.registry)
    records = CatalogRecords(counting, ttl=60.0, clock=Clock())  # type: ignore[arg-type]
    found = await asyncio.gather(*(records.module("shared") for _ in range(20)))
    assert {m.name for m in found} == {"shared"}
    assert counting.reads == 1
    missing = await asyncio.gather(
        *(records.module("nope") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(m, NotFound) for m in missing)
    assert counting.reads == 2  # one shared miss, and it is not kept:
    publish(catalog, "nope", "mp_fixtures.typed:Echo")
    assert (await records.module("nope")).name == "nope"
