"""Alembic migrations on both backends: they build, keep and drop exactly the declared schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, String, inspect, text

from modelport.db import connect
from modelport.db.engine import make_engine
from modelport.db.migrate import alembic_config, upgrade
from modelport.db.tables import metadata

TABLES = {
    "jobs",
    "job_events",
    "catalog_modules",
    "catalog_versions",
    "catalog_aliases",
    "catalog_artifacts",
    "catalog_terms",
    "catalog_module_groups",
    "catalog_job_versions",
    "catalog_rollouts",
    "catalog_rollout_events",
    "api_tokens",
    "pending_signins",
    "platform_state",
}
# full-text search lives outside the declared metadata (managed by migration 0002):
# SQLite's FTS5 table (and its shadow tables), PostgreSQL's generated tsvector column
SEARCH_COLUMNS = {"search", "search_text"}


def is_search_structure(name: str) -> bool:
    return name.startswith("catalog_fts")


def include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if kind == "table" and name and is_search_structure(name):
        return False
    if kind == "column" and name in SEARCH_COLUMNS and obj.table.name == "catalog_modules":
        return False
    return not (kind == "index" and name == "ix_catalog_modules_search")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty database, not migrated yet."""
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def schema(engine: Engine) -> dict[str, Any]:
    """What the database holds: per table, its columns, indexes, foreign keys and primary key."""
    found = inspect(engine)
    return {
        table: {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"]) for c in found.get_columns(table)
            },
            "indexes": {i["name"]: tuple(i["column_names"]) for i in found.get_indexes(table)},
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in found.get_foreign_keys(table)
            ),
            "primary_key": found.get_pk_constraint(table)["constrained_columns"],
        }
        for table in found.get_table_names()
        if not is_search_structure(table)
    }


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    [only] = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_heads()
    return only


def test_one_head() -> None:
    # two migrations written on parallel branches would leave two heads: upgrade("head") fails
    heads = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_creates_the_tables(engine: Engine) -> None:
    assert inspect(engine).get_table_names() == []
    assert revision(engine) is None

    upgrade(engine)

    assert {
        t for t in inspect(engine).get_table_names() if not is_search_structure(t)
    } == TABLES | {"alembic_version"}
    assert revision(engine) == head()
    found = schema(engine)
    assert found["jobs"]["primary_key"] == ["id"]
    assert found["job_events"]["primary_key"] == ["id"]
    assert found["job_events"]["foreign_keys"] == [(("job_id",), "jobs")]


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    before = schema(engine)

    upgrade(engine)
    assert schema(engine) == before
    assert revision(engine) == head()
    connect(engine.url.render_as_string(hide_password=False)).dispose()  # what a restart does
    assert schema(engine) == before
    assert revision(engine) == head()


def test_downgrade_to_base_drops_the_tables(engine: Engine) -> None:
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")

    assert {t for t in inspect(engine).get_table_names() if not is_search_structure(t)} <= {
        "alembic_version"
    }
    assert revision(engine) is None

    upgrade(engine)  # and back up again
    assert {
        t for t in inspect(engine).get_table_names() if not is_search_structure(t)
    } == TABLES | {"alembic_version"}


def test_migrated_columns_match_the_declared_tables(engine: Engine) -> None:
    """A column added to tables.py without a migration (or the other way round) fails here."""
    upgrade(engine)
    found = schema(engine)
    assert set(found) - {"alembic_version"} == set(metadata.tables)
    for name, table in metadata.tables.items():
        declared = {c.name: c.nullable for c in table.columns}
        migrated = {
            column: nullable
            for column, (_, nullable) in found[name]["columns"].items()
            if column not in SEARCH_COLUMNS
        }
        assert migrated == declared, name
        indexes = set(found[name]["indexes"]) - {"ix_catalog_modules_search"}
        assert indexes == {i.name for i in table.indexes}, name


def test_migrated_schema_has_no_autogenerate_diff(engine: Engine) -> None:
    """Alembic's own comparison (types, nullability, indexes, keys): nothing left to migrate."""
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include}
        )
        diff = compare_metadata(context, metadata)
    if engine.dialect.name == "sqlite":  # SQLite ignores VARCHAR lengths: 0010 widens PG only
        diff = [d for d in diff if not _length_only(d)]
    assert diff == []


def _length_only(change: object) -> bool:
    """A modify_type of one VARCHAR into a longer VARCHAR."""
    if not (isinstance(change, list) and len(change) == 1 and change[0][0] == "modify_type"):
        return False
    old, new = change[0][-2], change[0][-1]
    both = isinstance(old, String) and isinstance(new, String)
    return both and (new.length or 0) > (old.length or 0)


def test_0011_records_the_jobs_already_published(engine: Engine) -> None:
    """A job published before 0011 (twice, as it then could be) is recorded as its first one."""
    command.upgrade(alembic_config(engine), "0010")
    rows = [  # (version, job, published at)
        ("1.0.0", None, "2026-01-01 00:00:00+00:00"),
        ("1.1.0", "a" * 32, "2026-01-02 00:00:00+00:00"),
        ("1.2.0", "a" * 32, "2026-01-03 00:00:00+00:00"),
        ("2.0.0", "b" * 32, "2026-01-04 00:00:00+00:00"),
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO catalog_modules (name, title, summary, deprecated, created_at, "
                "updated_at) VALUES ('plants', 'P', 'S', false, :at, :at)"
            ),
            {"at": rows[0][2]},
        )
        for version, job, at in rows:
            conn.execute(
                text(
                    "INSERT INTO catalog_versions (module, version, metadata, published_at, "
                    "job_id) VALUES ('plants', :version, '{}', :at, :job)"
                ),
                {"version": version, "job": job, "at": at},
            )
    upgrade(engine)
    with engine.connect() as conn:
        recorded = conn.execute(
            text("SELECT job_id, module, version FROM catalog_job_versions ORDER BY job_id")
        ).all()
        yanked = conn.execute(text("SELECT count(*) FROM catalog_versions WHERE yanked_at IS NULL"))
        assert yanked.scalar_one() == 4
    assert [tuple(r) for r in recorded] == [
        ("a" * 32, "plants", "1.1.0"),
        ("b" * 32, "plants", "2.0.0"),
    ]
    command.downgrade(alembic_config(engine), "0010")
    assert "catalog_job_versions" not in inspect(engine).get_table_names()
    columns = {c["name"] for c in inspect(engine).get_columns("catalog_versions")}
    assert not columns & {"yanked_at", "yanked_by", "yanked_reason"}
    with engine.connect() as conn:  # nothing was lost on the way down
        assert conn.execute(text("SELECT count(*) FROM catalog_versions")).scalar_one() == 4
