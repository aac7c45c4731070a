"""Pipelines are catalog versions too: ``catalog_versions.pipeline`` holds a pipeline version's
checked document (steps, links, derived input and output schemas); NULL for a model version.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column (every existing version is a model)."""
    with op.batch_alter_table("catalog_versions") as batch:
        batch.add_column(sa.Column("pipeline", sa.JSON()))


def downgrade() -> None:
    """Drop it (pipeline versions become versions with nothing to load)."""
    with op.batch_alter_table("catalog_versions") as batch:
        batch.drop_column("pipeline")
