"""The catalog's generation on SQLite and PostgreSQL: every registry write moves it, in its own
transaction; another replica (its own engine on the same database) reads the move at once;
concurrent checks share reads; a broken connection of its own falls back to the pool."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, select

from modelport.catalog.domain import Visibility
from modelport.catalog.generation import CatalogGeneration
from modelport.catalog.registry import Registry
from modelport.db import connect
from modelport.db.tables import platform_state
from modelport.errors import Conflict, NotFound
from modelport.gateway.records import CatalogRecords
from tests.catalog.test_registry import meta


@pytest.fixture
def replicas(store_url: str) -> Iterator[tuple[Registry, Registry]]:
    """Two registries on one database, each on an engine of its own, as two replicas have."""
    engines = [connect(store_url), connect(store_url)]
    yield Registry(engines[0]), Registry(engines[1])
    for engine in engines:
        engine.dispose()


def test_every_registry_write_moves_the_generation(
    replicas: tuple[Registry, Registry],
) -> None:
    registry, _ = replicas
    seen = [registry.generation.read()]

    def moved() -> bool:
        seen.append(registry.generation.read())
        return seen[-1] == seen[-2] + 1

    registry.publish("plants", "1.0.0", meta("Plants"))
    assert moved()
    registry.publish("plants", "2.0.0", meta("Plants"))
    assert moved()
    registry.yank("plants", "2.0.0", "broken weights")
    assert moved()
    registry.unyank("plants", "2.0.0")
    assert moved()
    registry.set_alias("plants", "stable", "1.0.0")
    assert moved()
    registry.remove_alias("plants", "stable")
    assert moved()
    registry.set_visibility("plants", Visibility.GROUP, ["lab"])
    assert moved()
    registry.deprecate("plants", message="use trees")
    assert moved()
    # a refused write moves nothing: it rolled back with everything else
    with pytest.raises(Conflict):
        registry.publish("plants", "1.0.0", meta("Plants"))
    with pytest.raises(NotFound):
        registry.remove_alias("plants", "stable")
    assert registry.generation.read() == seen[-1]


def test_the_migration_starts_the_generation_and_a_lost_row_starts_again(
    replicas: tuple[Registry, Registry],
) -> None:
    registry, _ = replicas
    with registry.engine.connect() as conn:
        rows = conn.execute(select(platform_state.c.name, platform_state.c.counter)).all()
    assert [tuple(r) for r in rows] == [("catalog", 0)]
    with registry.engine.begin() as conn:  # a database restored without it
        conn.execute(delete(platform_state))
    assert registry.generation.read() == 0
    registry.publish("plants", "1.0.0", meta("Plants"))
    assert registry.generation.read() == 1


async def test_another_replica_sees_a_write_at_once(replicas: tuple[Registry, Registry]) -> None:
    a, b = replicas
    before = await b.generation.fresh()
    a.publish("plants", "1.0.0", meta("Plants"))
    assert await b.generation.fresh() == before + 1
    # and B's gateway records, kept for an hour, follow A's writes at once
    records = CatalogRecords(b, ttl=3600.0)
    assert (await records.version("plants", "latest")).version == "1.0.0"
    a.publish("plants", "1.1.0", meta("Plants"))
    assert (await records.version("plants", "latest")).version == "1.1.0"
    a.set_alias("plants", "stable", "1.0.0")
    assert (await records.version("plants", "stable")).version == "1.0.0"
    a.set_alias("plants", "stable", "1.1.0")
    assert (await records.version("plants", "stable")).version == "1.1.0"
    a.set_visibility("plants", Visibility.PRIVATE)
    assert (await records.module("plants")).visibility is Visibility.PRIVATE


class SlowReads(CatalogGeneration):
    """The real reads, each slowed down and counted, so that checks arrive during one."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.inline = False  # the threaded, shared path (PostgreSQL's) on SQLite too
        self.reads = 0
        self.gate = threading.Lock()

    def _read_threaded(self) -> int:
        with self.gate:
            self.reads += 1
        time.sleep(0.05)
        return super()._read_threaded()


async def test_concurrent_checks_share_reads_begun_after_them(
    replicas: tuple[Registry, Registry],
) -> None:
    a, b = replicas
    shared = SlowReads(b.engine)
    found = await asyncio.gather(*(shared.fresh() for _ in range(50)))
    assert len(set(found)) == 1
    assert shared.reads <= 2  # one read, or one begun before some of them asked and the next
    # a check arriving while a read is in flight waits for the next one: it sees a write that
    # committed after the in-flight read began
    first = asyncio.ensure_future(shared.fresh())
    await asyncio.sleep(0.01)  # that read is under way
    await asyncio.to_thread(a.publish, "plants", "1.0.0", meta("Plants"))
    assert await shared.fresh() == await asyncio.to_thread(a.generation.read)
    await first


async def test_a_broken_connection_of_its_own_falls_back_to_the_pool(
    replicas: tuple[Registry, Registry],
) -> None:
    a, b = replicas
    generation = b.generation
    start = await generation.fresh()
    assert generation._direct is not None  # opened by the first read
    generation._direct.close()  # the server went away under it
    a.publish("plants", "1.0.0", meta("Plants"))
    assert await generation.fresh() == start + 1
    assert generation._direct is None  # dropped, reopened after a while
    b.engine.dispose()  # closes the connection of its own with the pool's
    assert generation._direct is None
    assert await generation.fresh() == start + 1
    assert generation._direct is not None  # reopened at once after a dispose


async def test_an_in_memory_sqlite_catalog_reads_through_its_pool() -> None:
    engine = connect("sqlite://")
    registry = Registry(engine)
    try:
        before = await registry.generation.fresh()
        registry.publish("plants", "1.0.0", meta("Plants"))
        assert await registry.generation.fresh() == before + 1
    finally:
        engine.dispose()
