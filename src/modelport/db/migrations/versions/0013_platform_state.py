"""What the replicas sharing a database must agree on: ``platform_state``, one row per name.

- ``catalog``: its ``counter`` is the catalog's generation, moved on by every registry write in
  the write's own transaction; each replica's in-memory catalog caches (the gateway's records,
  the search's facet index) read it to drop what another replica changed
  (``modelport.catalog.generation``). Created here, at 0.
- ``catalog_store``: its ``value`` is the id of the catalog's artifact store, written by the
  first replica that starts (``modelport.storage.identity``); not created here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and the catalog's generation row."""
    state = op.create_table(
        "platform_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("counter", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("value", sa.Text()),
    )
    op.bulk_insert(state, [{"name": "catalog", "counter": 0}])


def downgrade() -> None:
    """Drop it (the id object in the artifact store is left there)."""
    op.drop_table("platform_state")
