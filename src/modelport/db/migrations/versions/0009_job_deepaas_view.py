"""The DEEPaaS training view of jobs: when one was deleted there (/jobs keeps it), and a legacy
module's arguments as its fields read them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.dismissed_at and jobs.shown_args (plain ADD COLUMN: no table copy on SQLite)."""
    op.add_column("jobs", sa.Column("dismissed_at", UTCDateTime()))
    op.add_column("jobs", sa.Column("shown_args", sa.JSON()))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("shown_args")
        batch.drop_column("dismissed_at")
