"""The gateway's cache of catalog records, on a real catalog: dropped when the catalog's
generation moves, kept at most its TTL, checked once per request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from modelport.catalog.domain import Visibility
from modelport.catalog.generation import CatalogGeneration
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


async def test_a_registry_write_is_seen_at_once_within_the_ttl(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "cached", "mp_fixtures.typed:Echo", "1.0.0")
    records = CatalogRecords(catalog.registry, ttl=3600.0, clock=Clock())
    assert (await records.version("cached", "latest")).version == "1.0.0"
    assert (await records.version("cached", "latest")).version == "1.0.0"
    publish(catalog, "cached", "mp_fixtures.typed:Echo", "2.0.0")  # moves the generation
    assert (await records.version("cached", "latest")).version == "2.0.0"
    assert (await records.module("cached")).latest_version == "2.0.0"
    catalog.registry.set_alias("cached", "stable", "1.0.0")
    assert (await records.version("cached", "stable")).version == "1.0.0"
    catalog.registry.set_alias("cached", "stable", "2.0.0")
    assert (await records.version("cached", "stable")).version == "2.0.0"
    catalog.registry.yank("cached", "2.0.0", "broken")
    assert (await records.version("cached", "latest")).version == "1.0.0"
    catalog.registry.set_visibility("cached", Visibility.PRIVATE)
    assert (await records.module("cached")).visibility is Visibility.PRIVATE


async def test_records_are_reused_within_the_ttl_then_read_again(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "cached", "mp_fixtures.typed:Echo", "1.0.0")
    clock = Clock()
    records = CatalogRecords(catalog.registry, ttl=2.0, clock=clock)
    assert (await records.module("cached")).title == "A test module"
    with catalog.engine.begin() as conn:  # a change behind the registry's back: no generation
        conn.execute(text("UPDATE catalog_modules SET title = 'Renamed'"))
    clock.now += 1.0
    assert (await records.module("cached")).title == "A test module"  # still kept
    clock.now += 1.5
    assert (await records.module("cached")).title == "Renamed"  # expired: read again


class CountingGeneration:
    """The registry's generation, counting the checks."""

    def __init__(self, generation: CatalogGeneration) -> None:
        self.generation = generation
        self.checks = 0

    async def fresh(self) -> int:
        self.checks += 1
        return await self.generation.fresh()


async def test_a_request_checks_the_generation_once(tmp_path: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=tmp_path))
    publish(catalog, "once", "mp_fixtures.typed:Echo", "1.0.0")
    counting = CountingGeneration(catalog.registry.generation)
    records = CatalogRecords(catalog.registry, ttl=60.0, generation=counting)  # type: ignore[arg-type]

    async def request() -> str:  # what the gateway does: authorize by module, then resolve
        await records.module("once")
        return (await records.version("once", "latest")).version

    assert await asyncio.create_task(request()) == "1.0.0"
    assert counting.checks == 1
    publish(catalog, "once", "mp_fixtures.typed:Echo", "1.1.0")
    assert await asyncio.create_task(request()) == "1.1.0"
    assert counting.checks == 2
    # the handed-over check serves one version lookup of that module; any other checks itself
    await records.module("once")
    assert (await records.version("once", "latest")).version == "1.1.0"
    assert counting.checks == 3
    assert (await records.version("once", "latest")).version == "1.1.0"
    assert counting.checks == 4
    await records.module("once")
    with pytest.raises(NotFound):
        await records.version("another", "latest")
    assert counting.checks == 6


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
        self.generation = registry.generation
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
