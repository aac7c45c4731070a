"""Alembic migrations, run programmatically (the scripts ship inside the package), one at a time.

Several ``modelport up`` replicas share one database. Migrating is a step of its own,
``modelport db upgrade``, and two processes never run it at once: the whole upgrade holds a lock
(:func:`~modelport.db.locks.database_lock`: a PostgreSQL advisory lock, or a ``flock`` beside a
SQLite database), and whoever gets it second finds the schema current and does nothing. A replica
started with ``migrate="wait"`` never migrates: it waits until the schema is at the revision it
was built for (:func:`wait_until_current`), so an operator runs the upgrade once (a Kubernetes
Job, an init step) and every replica follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from modelport.db.locks import database_lock
from modelport.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"

#: How a process treats the schema when it opens the database: ``auto`` migrates it (under the
#: lock), ``wait`` waits for someone else's ``modelport db upgrade``.
MigrateMode = Literal["auto", "wait"]

#: The PostgreSQL advisory lock key of modelport's migrations: a fixed number no other use of
#: advisory locks in the same database is likely to pick.
ADVISORY_LOCK_KEY: Final = 0x2F3C_0B7A_5E61_9D04


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this modelport's migrations."""

    current: str | None
    head: str
    known: bool  # the current revision is one of this modelport's (not newer, not foreign)

    @property
    def up_to_date(self) -> bool:
        """The schema is exactly what this modelport was built for."""
        return self.current == self.head


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest revision this modelport ships."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None  # the package ships migrations
    return head


def schema_state(engine: Engine) -> SchemaState:
    """The database's revision (None when it has never been migrated) against ours."""
    script = ScriptDirectory(str(MIGRATIONS))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = current is None or any(rev.revision == current for rev in script.walk_revisions())
    return SchemaState(current=current, head=head_revision(), known=known)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's migration lock (waiting for it) while the block runs."""
    with database_lock(engine, "migrate", ADVISORY_LOCK_KEY):
        yield


def upgrade(engine: Engine, revision: str = "head") -> SchemaState:
    """Migrate the database to ``revision`` under the migration lock; the state before.

    A database at a revision this modelport does not know (a newer modelport migrated it) is
    refused with StoreError instead of being touched.
    """
    with migration_lock(engine):
        before = schema_state(engine)
        if not before.known:
            raise _newer(before)
        if revision != "head" or not before.up_to_date:
            command.upgrade(alembic_config(engine), revision)
    return before


def wait_until_current(
    engine: Engine,
    timeout: float,
    *,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> SchemaState:
    """Wait (up to ``timeout`` s) until the schema is at this modelport's head; never migrate.

    StoreError when the time runs out (naming the command that migrates) or the database is at a
    revision newer than this modelport's.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = schema_state(engine)
        if state.up_to_date:
            return state
        if not state.known:
            raise _newer(state)
        if time.monotonic() >= deadline:
            raise StoreError(
                f"the database schema is at revision {state.current or 'none (empty)'}, this "
                f"modelport needs {state.head}: run `modelport db upgrade` (waited {timeout:g} s; "
                "this process was told to wait for it, migrate=wait)"
            )
        sleep(poll)


def _newer(state: SchemaState) -> StoreError:
    return StoreError(
        f"the database schema is at revision {state.current}, which this modelport does not "
        f"know (its newest is {state.head}): a newer modelport migrated it; upgrade modelport"
    )
