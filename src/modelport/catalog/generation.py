"""The catalog's generation: one number in the database that every registry write moves on.

Replicas of the platform share one database, and each keeps some of the catalog in memory: the
gateway's module and version records (``gateway.records``) and the search's facet index
(``catalog.search``). A write on one replica must be seen by the others at once, not after a
TTL, so every registry write adds one to the ``catalog`` row of ``platform_state`` (:func:`bump`)
in its own transaction, and each cache keeps what it read under the generation it read it at,
dropping everything when the generation it reads has moved. The write and its bump commit
together: whoever reads a generation sees every write up to it.

Checking costs one read of one row by its primary key. :meth:`CatalogGeneration.fresh` is what
a request awaits: the generation as of a read begun after the call, so that a write committed
before the request arrived (on any replica) is seen. On SQLite (one host) that read runs inline
on a connection of its own, in microseconds: a WAL reader never waits for a writer. On
PostgreSQL it runs on a connection of its own in a thread, and the requests arriving while one
read is in flight share the next one: at most one read in flight, whatever the load.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from contextlib import suppress
from functools import partial
from typing import Any, Final

from sqlalchemy import Connection, Engine, event, insert, select, update

from modelport.db.engine import transaction
from modelport.db.tables import platform_state

#: The row of ``platform_state`` whose ``counter`` is the catalog's generation.
CATALOG: Final = "catalog"
#: How long an inline SQLite read may wait for a lock before the pooled read takes over.
INLINE_BUSY_SECONDS: Final = 0.05
#: After a failed attempt at a connection of its own, reads use the engine's pool this long.
RETRY_SECONDS: Final = 5.0

_SELECT: Final = select(platform_state.c.counter).where(platform_state.c.name == CATALOG)
_RAW_SELECT: Final = "SELECT counter FROM platform_state WHERE name = 'catalog'"


def bump(conn: Connection) -> None:
    """Move the generation on, in the writer's transaction.

    Call it last in the transaction: on PostgreSQL the row stays locked until the commit, so
    concurrent catalog writes queue there, briefly, and never while holding it wait for another.
    """
    counter = platform_state.c.counter
    moved = conn.execute(
        update(platform_state).where(platform_state.c.name == CATALOG).values(counter=counter + 1)
    )
    if moved.rowcount == 0:  # a database restored without the row: start it again
        conn.execute(insert(platform_state).values(name=CATALOG, counter=1))


def read_generation(conn: Connection) -> int:
    """The generation as ``conn`` sees it (0 without the row)."""
    return int(conn.execute(_SELECT).scalar() or 0)


class CatalogGeneration:
    """Reads of the catalog generation of one engine, for the caches of one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: SQLite (one host): read inline, on a connection of its own to a file
        self.inline = engine.url.get_backend_name() == "sqlite"
        self._in_memory = engine.url.database in (None, "", ":memory:")
        self._lock = threading.Lock()
        self._direct: Any = None  # a DBAPI connection of its own (sqlite3, psycopg), or None
        self._retry_at = 0.0
        self._started = 0  # shared reads begun
        self._flight: tuple[int, asyncio.AbstractEventLoop, asyncio.Future[int]] | None = None
        event.listen(engine, "engine_disposed", self._disposed)

    def read(self) -> int:
        """The generation, read through the engine's pool (blocking: from a thread)."""
        with transaction(self.engine) as conn:
            return read_generation(conn)

    async def fresh(self) -> int:
        """The generation as of a read begun after this call (StoreError if the database
        cannot be read)."""
        if self.inline:
            direct = self._open()
            if direct is None and self._in_memory:
                return self.read()  # its one connection lives in this thread
            if direct is not None:
                try:
                    with self._lock:
                        return _raw_read(direct)
                except sqlite3.Error:  # locked for a while: the pool's read waits longer
                    self._drop(direct)
        return await self._shared()

    async def _shared(self) -> int:
        """The result of a read in a thread begun after this call; callers arriving while one
        is in flight wait for it to land and share the next."""
        loop = asyncio.get_running_loop()
        asked = self._started
        while True:
            flight = self._flight
            if flight is None or flight[1] is not loop or flight[2].done():
                self._started += 1
                future = loop.run_in_executor(None, self._read_threaded)
                flight = self._flight = (self._started, loop, future)
                future.add_done_callback(partial(self._landed, flight))
            number, _, future = flight
            if number > asked:
                return await asyncio.shield(future)
            await asyncio.wait([future])  # begun before this call: not fresh enough

    def _landed(self, flight: tuple[Any, ...], _future: asyncio.Future[int]) -> None:
        if self._flight is flight:
            self._flight = None

    def _read_threaded(self) -> int:
        direct = self._open()  # connects to PostgreSQL the first time
        if direct is not None:
            try:
                with self._lock:
                    return _raw_read(direct)
            except Exception:  # a broken connection: the pool's read (pre-pinged) decides
                self._drop(direct)
        return self.read()

    def _open(self) -> Any:
        """The connection of its own (opened now if needed); None: use the engine's pool."""
        with self._lock:
            if self._direct is None and time.monotonic() >= self._retry_at:
                try:
                    self._direct = _connect(self.engine)
                except Exception:  # not reachable now, or no driver for it
                    self._direct = None
                if self._direct is None:
                    self._retry_at = time.monotonic() + RETRY_SECONDS
            return self._direct

    def _drop(self, direct: Any) -> None:
        with self._lock:
            if self._direct is direct:
                self._direct = None
                self._retry_at = time.monotonic() + RETRY_SECONDS
        _close(direct)

    def _disposed(self, _engine: Engine) -> None:
        """The engine was disposed: close the connection of its own too (reopened on use)."""
        with self._lock:
            direct, self._direct, self._retry_at = self._direct, None, 0.0
        _close(direct)


def _connect(engine: Engine) -> Any:
    """A DBAPI connection of its own to ``engine``'s database, in autocommit (each read sees
    the latest commit and holds no transaction open); None where there is none to open."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:") or url.query:
            return None
        return sqlite3.connect(
            url.database,
            timeout=INLINE_BUSY_SECONDS,
            check_same_thread=False,  # used under the lock, from the event loop's thread
            isolation_level=None,
        )
    if backend == "postgresql":
        import psycopg

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    return None


def _raw_read(direct: Any) -> int:
    row = direct.execute(_RAW_SELECT).fetchone()
    return int(row[0]) if row is not None else 0


def _close(direct: Any) -> None:
    if direct is not None:
        with suppress(Exception):  # closing a broken connection
            direct.close()
