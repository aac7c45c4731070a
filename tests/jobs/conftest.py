"""Job-store fixtures: every store test runs on SQLite (a file) and on a real PostgreSQL.

PostgreSQL is not optional: CI starts it, so an unreachable server fails the test loudly
instead of skipping it. ``MODELPORT_TEST_POSTGRES`` points at another server (a URL of its
maintenance database, ``postgresql://user@host:port/postgres``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from modelport.db import connect
from modelport.jobs.store import JobStore

POSTGRES_ADMIN_URL = os.environ.get(
    "MODELPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        problem = str(exc).strip()
    pytest.fail(
        f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {problem}\nThe job store is tested "
        "on PostgreSQL for real: start it (CI does) or set MODELPORT_TEST_POSTGRES.",
        pytrace=False,
    )


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own for one test, dropped afterwards."""
    name = f"modelport_test_{uuid.uuid4().hex}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin() as admin:
            # FORCE: a connection a test leaked must not keep the database alive
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of its own for one test."""
    return f"sqlite:///{tmp_path}/modelport.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A database URL for an empty database, once per backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def open_engine(store_url: str) -> Iterator[Callable[[], Engine]]:
    """Open (and migrate) engines on ``store_url``; each is disposed before the database goes."""
    engines: list[Engine] = []

    def open_() -> Engine:
        engine = connect(store_url)
        engines.append(engine)
        return engine

    yield open_
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store(open_engine: Callable[[], Engine]) -> JobStore:
    """A JobStore on a freshly migrated database (both backends)."""
    return JobStore(open_engine())
