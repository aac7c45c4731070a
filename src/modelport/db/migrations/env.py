"""Alembic environment: the engine comes from modelport (config.attributes["engine"])."""

from __future__ import annotations

from alembic import context

from modelport.db.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
