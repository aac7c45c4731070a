"""Module visibility: public, group (members of the module's groups) or private (owner, admins).

``catalog_modules.visibility`` (existing modules stay public) and ``catalog_module_groups``,
one row per group that sees a 'group' module, so that search filters in SQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the visibility column, the owner index and the module groups table."""
    # a plain ADD COLUMN: a batch (copy) of catalog_modules would cascade-delete its versions
    op.add_column(
        "catalog_modules",
        sa.Column("visibility", sa.String(16), nullable=False, server_default="public"),
    )
    op.create_index("ix_catalog_modules_owner", "catalog_modules", ["owner"])
    op.create_table(
        "catalog_module_groups",
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_name", sa.String(200), primary_key=True),
    )
    op.create_index("ix_catalog_module_groups_group", "catalog_module_groups", ["group_name"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("catalog_module_groups")
    op.drop_index("ix_catalog_modules_owner", "catalog_modules")
    op.drop_column("catalog_modules", "visibility")
