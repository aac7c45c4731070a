"""Job kinds: a job is a training (as before) or a notebook (JupyterLab: ``modelport.notebooks``).

- ``jobs.kind``: ``training`` or ``notebook``; rows from before this revision are trainings.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column (plain ADD COLUMN with a server default: existing rows are trainings)."""
    op.add_column(
        "jobs", sa.Column("kind", sa.String(16), nullable=False, server_default="training")
    )


def downgrade() -> None:
    """Drop it (plain DROP COLUMN, SQLite 3.35+)."""
    op.drop_column("jobs", "kind")
