"""API tokens keep their owner's display name (browser sessions show who is signed in).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add api_tokens.owner_name (plain ADD COLUMN)."""
    op.add_column("api_tokens", sa.Column("owner_name", sa.String(200)))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("owner_name")
