"""Yanked versions, and the version each training job was published as.

- ``catalog_versions.yanked_at``, ``yanked_by``, ``yanked_reason``: a yanked version is hidden
  from ``latest`` and from listings, yet still served by its exact number (existing versions
  are not yanked).
- ``catalog_job_versions``: one row per published job (its primary key: a job is published
  once), filled here from the versions already published from jobs (the first one, for a job
  published more than once before this revision).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_VERSIONS = sa.table(
    "catalog_versions",
    sa.column("module", sa.String),
    sa.column("version", sa.String),
    sa.column("job_id", sa.String),
    sa.column("published_at", UTCDateTime()),
)


def upgrade() -> None:
    """Add the yank columns (plain ADD COLUMN: no table copy) and the job versions table."""
    op.add_column("catalog_versions", sa.Column("yanked_at", UTCDateTime()))
    op.add_column("catalog_versions", sa.Column("yanked_by", sa.String(500)))
    op.add_column("catalog_versions", sa.Column("yanked_reason", sa.Text()))
    job_versions = op.create_table(
        "catalog_job_versions",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.String(100), nullable=False),
    )
    published = op.get_bind().execute(
        sa.select(_VERSIONS.c.job_id, _VERSIONS.c.module, _VERSIONS.c.version)
        .where(_VERSIONS.c.job_id.is_not(None))
        .order_by(_VERSIONS.c.published_at.desc(), _VERSIONS.c.module, _VERSIONS.c.version)
    )
    first = {
        row.job_id: {"job_id": row.job_id, "module": row.module, "version": row.version}
        for row in published
    }  # the earliest, written last, wins
    if first:
        op.bulk_insert(job_versions, list(first.values()))


def downgrade() -> None:
    """Drop them (plain DROP COLUMN, SQLite 3.35+)."""
    op.drop_table("catalog_job_versions")
    op.drop_column("catalog_versions", "yanked_reason")
    op.drop_column("catalog_versions", "yanked_by")
    op.drop_column("catalog_versions", "yanked_at")
