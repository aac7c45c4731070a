"""Engines for the embedded default (SQLite in WAL mode) and PostgreSQL, migrated on open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from modelport.errors import Conflict, StoreError

if TYPE_CHECKING:
    from modelport.db.migrate import MigrateMode

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; several worker processes share the file safely.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction; unique-key violations raise Conflict, other failures
    StoreError (SQLAlchemy's errors never leave the adapter)."""
    try:
        with engine.begin() as conn:
            yield conn
    except IntegrityError as exc:
        raise Conflict(f"conflicting write: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database error: {type(exc).__name__}: {exc}") from exc


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their directory, WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def connect(url: str, migrate: MigrateMode = "auto", migrate_timeout: float = 300.0) -> Engine:
    """An engine for ``url`` whose schema is at the newest version.

    ``migrate="auto"`` migrates it (under the migration lock, so replicas starting together
    never race); ``"wait"`` waits up to ``migrate_timeout`` s for ``modelport db upgrade``.
    """
    from modelport.db.migrate import upgrade, wait_until_current

    try:
        engine = make_engine(url)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database {shown_url(url)}: {exc}") from exc
    try:
        if migrate == "wait":
            wait_until_current(engine, migrate_timeout)
        else:
            upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the database {shown_url(url)}: {exc}") from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


def shown_url(url: str) -> str:
    """``url`` as it may be shown: its password hidden."""
    try:
        return make_url(url).render_as_string()
    except SQLAlchemyError:
        return "(not a database URL)"
