"""Migrations as one locked step: replicas starting together never race them, and a replica told
to wait (migrate=wait) never migrates but follows ``modelport db upgrade``."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from modelport.db import connect
from modelport.db.engine import make_engine
from modelport.db.migrate import head_revision, schema_state, upgrade, wait_until_current
from modelport.errors import StoreError

RACERS = 4

# What a replica does at start: open the database in the default mode (migrate=auto).
OPEN = "import sys; from modelport.db import connect; connect(sys.argv[1]).dispose()"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty database, not migrated."""
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def _all(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once, then wait for each."""
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    done = []
    for proc, command in zip(procs, commands, strict=True):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return done


@pytest.mark.slow
def test_replicas_starting_together_on_an_empty_database_all_start(store_url: str) -> None:
    # the operator's report: two replicas starting together raced Alembic, one exited with a
    # UniqueViolation (4 of 4 runs)
    runs = _all([[sys.executable, "-c", OPEN, store_url] for _ in range(RACERS)])

    assert [r.returncode for r in runs] == [0] * RACERS, [r.stderr[-2000:] for r in runs]
    engine = make_engine(store_url)
    try:
        assert schema_state(engine).up_to_date
    finally:
        engine.dispose()


@pytest.mark.slow
def test_db_upgrade_run_concurrently_migrates_once(store_url: str) -> None:
    cli = [sys.executable, "-m", "modelport", "db", "upgrade", "--database-url", store_url]
    runs = _all([cli] * RACERS)

    assert [r.returncode for r in runs] == [0] * RACERS, [r.stderr[-2000:] for r in runs]
    said = sorted(r.stdout.split(": ", 1)[1].strip() for r in runs)
    head = head_revision()
    assert said == [f"already at revision {head}"] * (RACERS - 1) + [
        f"migrated from revision none (empty) to {head}"
    ]


def test_db_status_exits_1_until_the_schema_is_current(store_url: str) -> None:
    status = [sys.executable, "-m", "modelport", "db", "status", "--database-url", store_url]

    behind = subprocess.run(status, capture_output=True, text=True, check=False)
    assert behind.returncode == 1
    assert "schema revision: none (empty)" in behind.stdout
    assert "run `modelport db upgrade`" in behind.stdout

    engine = connect(store_url)
    engine.dispose()
    current = subprocess.run(status, capture_output=True, text=True, check=False)
    assert current.returncode == 0, current.stderr
    assert f"schema revision: {head_revision()}" in current.stdout
    assert "(current)" in current.stdout


def test_a_password_never_shows_and_an_unreachable_database_is_exit_2() -> None:
    url = "postgresql+psycopg://someone:s3cr3t-pw@127.0.0.1:1/nowhere"
    run = subprocess.run(
        [sys.executable, "-m", "modelport", "db", "status", "--database-url", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "s3cr3t-pw" not in run.stdout + run.stderr
    assert "someone:***@127.0.0.1:1/nowhere" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_waiting_replica_follows_the_upgrade_and_never_migrates(engine: Engine) -> None:
    waited: list[object] = []

    def replica() -> None:
        try:
            waited.append(wait_until_current(engine, timeout=60, poll=0.05))
        except StoreError as exc:  # pragma: no cover - reported by the assertion below
            waited.append(exc)

    thread = threading.Thread(target=replica)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # nothing migrated it: it waits
    assert schema_state(engine).current is None

    upgrade(engine)  # the operator's `modelport db upgrade`
    thread.join(60)

    assert not thread.is_alive()
    assert len(waited) == 1
    assert getattr(waited[0], "up_to_date", False)


def test_waiting_too_long_names_the_command(store_url: str, engine: Engine) -> None:
    with pytest.raises(StoreError, match=r"run `modelport db upgrade` \(waited 0\.2 s"):
        connect(store_url, migrate="wait", migrate_timeout=0.2)
    assert schema_state(engine).current is None  # and it did not migrate


def test_a_schema_newer_than_this_modelport_is_refused_not_touched(
    store_url: str, engine: Engine
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))

    with pytest.raises(StoreError, match=r"does not know .* upgrade modelport"):
        upgrade(engine)
    with pytest.raises(StoreError, match="does not know"):
        connect(store_url, migrate="wait", migrate_timeout=5)
    assert schema_state(engine).current == "9999_from_the_future"
