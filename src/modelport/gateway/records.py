"""A short-lived cache of the catalog records every proxied request needs.

Each request to a catalog model needs the module (who may call it) and the version its reference
names. Reading them from the database per request would cost two queries and two thread hops
on the hot path; they change rarely, so they are kept for ``catalog_cache_seconds`` (a new
version, alias or visibility is seen by the gateway at most that long after it is published).
Misses (NotFound) are never cached: a module published a moment ago is found at once.
Concurrent misses of one key share one load, so an expiring entry under load costs one query,
not one per request in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, cast

from modelport.catalog.domain import ModuleRecord, VersionRecord
from modelport.catalog.registry import Registry

T = TypeVar("T")
K = TypeVar("K")
#: Entries kept at most (a platform serves far fewer distinct module references than this).
MAX_ENTRIES = 4096


class CatalogRecords:
    """Module and version records from ``registry``, each kept for ``ttl`` seconds."""

    def __init__(
        self, registry: Registry, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        self.clock = clock
        self._modules: dict[str, tuple[float, ModuleRecord]] = {}
        self._versions: dict[tuple[str, str], tuple[float, VersionRecord]] = {}
        #: loads under way, by table and key: their callers share them
        self._loading: dict[tuple[int, object], asyncio.Future[Any]] = {}

    async def module(self, name: str) -> ModuleRecord:
        """The module ``name``; NotFound if unknown."""
        return await self._cached(self._modules, name, lambda: self.registry.module(name))

    async def version(self, name: str, ref: str) -> VersionRecord:
        """The version ``ref`` (a version, alias or latest) of ``name``; NotFound if unknown."""
        return await self._cached(
            self._versions, (name, ref), lambda: self.registry.version(name, ref)
        )

    def clear(self) -> None:
        """Forget everything (e.g. right after a publish in this process)."""
        self._modules.clear()
        self._versions.clear()

    async def _cached(self, table: dict[K, tuple[float, T]], key: K, load: Callable[[], T]) -> T:
        hit = table.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        flight = (id(table), key)
        loading = self._loading.get(flight)
        if loading is None:  # the first to miss loads it; others wait for the same answer
            loading = asyncio.ensure_future(asyncio.to_thread(load))
            self._loading[flight] = loading
            loading.add_done_callback(partial(self._loaded, table, key, flight, self.clock()))
        # a caller that gives up (disconnects) leaves the load to the others
        return cast(T, await asyncio.shield(loading))

    def _loaded(
        self,
        table: dict[K, tuple[float, T]],
        key: K,
        flight: tuple[int, object],
        started: float,
        loading: asyncio.Future[Any],
    ) -> None:
        del self._loading[flight]
        if loading.cancelled() or loading.exception() is not None:
            return  # a miss (NotFound) is never kept
        if self.ttl > 0:
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = (started + self.ttl, loading.result())
