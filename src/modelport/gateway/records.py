"""A short-lived cache of the catalog records every proxied request needs.

Each request to a catalog model needs the module (who may call it) and the version its reference
names. Reading them from the database per request would cost two queries and two thread hops
on the hot path; they change rarely, so they are kept for ``catalog_cache_seconds`` (a new
version, alias or visibility is seen by the gateway at most that long after it is published).
Misses (NotFound) are never cached: a module published a moment ago is found at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

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
        now = self.clock()
        hit = table.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await asyncio.to_thread(load)
        if self.ttl > 0:
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = (now + self.ttl, value)
        return value
