"""Rollouts: an alias split between a primary and a canary version, with a shadow, audited.

- ``catalog_rollouts``: one row per (module, alias) under a rollout (see
  ``modelport.rollouts``), deleted with its module.
- ``catalog_rollout_events``: the audit log of every change (who, when, action, the rollout
  before and after, why); kept when a rollout ends, so its history stays readable.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create both tables (empty: no alias is under a rollout yet)."""
    op.create_table(
        "catalog_rollouts",
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(100), primary_key=True),
        sa.Column("primary_version", sa.String(100), nullable=False),
        sa.Column("canary_version", sa.String(100)),
        sa.Column("canary_weight", sa.Float(), nullable=False),
        sa.Column("shadow_version", sa.String(100)),
        sa.Column("sticky_header", sa.String(100)),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(500)),
    )
    op.create_table(
        "catalog_rollout_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("module", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(500)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
        sa.Column("reason", sa.Text()),
    )
    op.create_index(
        "ix_catalog_rollout_events_alias", "catalog_rollout_events", ["module", "alias", "id"]
    )


def downgrade() -> None:
    """Drop both (every alias is plain again, pointing at the rollout's primary)."""
    op.drop_index("ix_catalog_rollout_events_alias", table_name="catalog_rollout_events")
    op.drop_table("catalog_rollout_events")
    op.drop_table("catalog_rollouts")
