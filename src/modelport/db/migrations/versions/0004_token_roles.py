"""API tokens carry a snapshot of their owner's roles and groups at issue time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the roles and groups columns (existing tokens get none)."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("roles", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("groups", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("groups")
        batch.drop_column("roles")
