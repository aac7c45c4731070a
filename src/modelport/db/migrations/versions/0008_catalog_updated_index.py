"""Index catalog_modules.updated_at: search reads max(updated_at) as the catalog's generation.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ix_catalog_modules_updated_at."""
    op.create_index("ix_catalog_modules_updated_at", "catalog_modules", ["updated_at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_catalog_modules_updated_at", table_name="catalog_modules")
