"""Locks the processes sharing a database take, by name: PostgreSQL advisory locks (session
level, on a connection held for the block), ``flock`` on a file beside a SQLite database (the
processes share its host). An in-memory database belongs to one process: no lock."""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """The advisory lock key of ``name`` (a stable 31-bit number)."""
    return zlib.crc32(f"modelport-lock:{name}".encode()) & 0x7FFF_FFFF


@contextmanager
def database_lock(engine: Engine, name: str, key: int | None = None) -> Iterator[None]:
    """Hold the lock ``name`` (waiting for it) while the block runs, across processes."""
    if engine.dialect.name == "postgresql":
        number = lock_key(name) if key is None else key
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": number})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": number})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(f"{Path(database).name}.{name}-lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
