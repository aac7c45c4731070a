"""The gateway's cache of the catalog records every proxied request needs, kept per generation.

Each request to a catalog model needs the module (who may call it) and the version its reference
names. Reading them from the database per request would cost several queries and thread hops on
the hot path, so they are kept -- but a replica must never serve what another replica changed
(a new version, an alias moved, a version yanked, a module made private). So each request first
checks the catalog's generation (``catalog.generation``: one row that every registry write, on
any replica, moves on): when it has moved, everything kept is dropped. A request checks once:
the module lookup that authorizes it checks, and the version lookup that follows it in the same
request reuses that check (a context variable hands it over, for one lookup, for a short while).
Entries are also kept at most ``catalog_cache_seconds``.

Misses (NotFound) are never cached: a module published a moment ago is found at once.
Concurrent misses of one key share one load, so a dropped entry under load costs one query,
not one per request in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from functools import partial
from typing import Any, Final, TypeVar, cast

from modelport.catalog.domain import ModuleRecord, VersionRecord
from modelport.catalog.generation import CatalogGeneration
from modelport.catalog.registry import Registry

T = TypeVar("T")
K = TypeVar("K")
#: Entries kept at most (a platform serves far fewer distinct module references than this).
MAX_ENTRIES = 4096
#: How long a module lookup's check of the generation may serve the version lookup after it.
HANDOVER_SECONDS: Final = 1.0

#: (records, module name, generation, when): the check a module lookup made, for the version
#: lookup of the same request (context variables follow one request's task, not its siblings)
_checked: ContextVar[tuple[object, str, int, float] | None] = ContextVar(
    "modelport_gateway_checked", default=None
)
#: (records, generation): one check every lookup of a composite request uses (see ``pin``)
_pinned: ContextVar[tuple[object, int] | None] = ContextVar(
    "modelport_gateway_pinned", default=None
)


class CatalogRecords:
    """Module and version records from ``registry``, kept while the catalog's generation stays
    and for ``ttl`` seconds at most."""

    def __init__(
        self,
        registry: Registry,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        generation: CatalogGeneration | None = None,
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        self.clock = clock
        self.generation = generation if generation is not None else registry.generation
        self._modules: dict[str, tuple[float, ModuleRecord]] = {}
        self._versions: dict[tuple[str, str], tuple[float, VersionRecord]] = {}
        #: the generation what the tables hold was read at (None: nothing read yet)
        self._held: int | None = None
        #: loads under way, by table, key and generation: their callers share them
        self._loading: dict[tuple[int, object, int], asyncio.Future[Any]] = {}

    async def pin(self) -> Token[tuple[object, int] | None]:
        """Check the generation once for every lookup that follows in this context (and the
        tasks it starts), until :meth:`unpin`: a pipeline's calls see one catalog state, at
        the cost of one check."""
        handed = _checked.get()
        if (
            handed is not None
            and handed[0] is self
            and self.clock() - handed[3] <= HANDOVER_SECONDS
        ):
            return _pinned.set((self, handed[2]))  # this request's module lookup just checked
        return _pinned.set((self, await self._check()))

    @staticmethod
    def unpin(token: Token[tuple[object, int] | None]) -> None:
        """End what :meth:`pin` began."""
        _pinned.reset(token)

    async def module(self, name: str) -> ModuleRecord:
        """The module ``name``; NotFound if unknown."""
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self:
            return await self._cached(
                self._modules, name, pinned[1], lambda: self.registry.module(name)
            )
        generation = await self._check()
        _checked.set((self, name, generation, self.clock()))
        return await self._cached(
            self._modules, name, generation, lambda: self.registry.module(name)
        )

    async def version(self, name: str, ref: str) -> VersionRecord:
        """The version ``ref`` (a version, alias or latest) of ``name``; NotFound if unknown."""
        handed = _checked.get()
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self:
            generation = pinned[1]
        elif (
            handed is not None
            and handed[0] is self
            and handed[1] == name
            and self.clock() - handed[3] <= HANDOVER_SECONDS
        ):
            _checked.set(None)  # one lookup only
            generation = handed[2]
        else:
            generation = await self._check()
        return await self._cached(
            self._versions, (name, ref), generation, lambda: self.registry.version(name, ref)
        )

    @property
    def held(self) -> int | None:
        """The generation checked last (by the module lookup of the request at hand): other
        caches kept per generation (``rollouts.router``) follow it (None: none checked yet)."""
        return self._held

    def clear(self) -> None:
        """Forget everything."""
        self._modules.clear()
        self._versions.clear()

    async def _check(self) -> int:
        """The catalog's generation now; what was kept under an older one is dropped."""
        generation = await self.generation.fresh()
        if self._held is None or generation > self._held:
            self.clear()
            self._held = generation
        return generation

    async def _cached(
        self, table: dict[K, tuple[float, T]], key: K, generation: int, load: Callable[[], T]
    ) -> T:
        hit = table.get(key)
        # kept entries were read at the generation held, at least as new as the caller's
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        flight = (id(table), key, generation)
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
        flight: tuple[int, object, int],
        started: float,
        loading: asyncio.Future[Any],
    ) -> None:
        del self._loading[flight]
        if loading.cancelled() or loading.exception() is not None:
            return  # a miss (NotFound) is never kept
        if self.ttl > 0 and flight[2] == self._held:  # read at the generation the tables hold
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = (started + self.ttl, loading.result())
