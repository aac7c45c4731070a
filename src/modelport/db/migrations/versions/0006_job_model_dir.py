"""Jobs remember the directory of their model version's artifacts (catalog versions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.model_dir (plain ADD COLUMN: no table copy on SQLite)."""
    op.add_column("jobs", sa.Column("model_dir", sa.String(1000)))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("model_dir")
