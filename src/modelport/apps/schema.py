"""The database schema as an operator's step: migrate it once, see where it stands.

What ``modelport db upgrade|status`` runs. Replicas sharing a database start with
``migrate=wait`` and follow; the upgrade holds the migration lock, so a second one started at the
same time (a retried deployment Job) waits, then finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from modelport.db.engine import make_engine, shown_url
from modelport.db.migrate import SchemaState, schema_state, upgrade
from modelport.errors import StoreError
from modelport.settings import Settings


@dataclass(frozen=True)
class SchemaReport:
    """A database (its URL, password hidden) and its schema before and after a step."""

    database: str
    before: SchemaState
    after: SchemaState


def upgrade_schema(settings: Settings) -> SchemaReport:
    """Migrate the settings' database to this modelport's newest schema, under the lock."""
    return _on_database(settings, lambda engine: (upgrade(engine), schema_state(engine)))


def schema_status(settings: Settings) -> SchemaReport:
    """Where the settings' database schema stands (nothing is changed)."""
    return _on_database(settings, lambda engine: (schema_state(engine),) * 2)


def _on_database(
    settings: Settings, step: Callable[[Engine], tuple[SchemaState, SchemaState]]
) -> SchemaReport:
    url = settings.store_url()
    with _engine(url) as engine:
        before, after = step(engine)
    return SchemaReport(shown_url(url), before, after)


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    shown = shown_url(url)
    try:
        engine = make_engine(url)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database {shown}: {exc}") from exc
    try:
        yield engine
    except SQLAlchemyError as exc:
        raise StoreError(f"the database {shown} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        engine.dispose()
