"""Job leases: each running job is owned by one replica, which renews its lease while it runs.

- ``jobs.lease_owner``: the name of the replica that runs (or last ran) the job.
- ``jobs.lease_expires_at``: until when its lease holds; a running job whose lease has expired
  was left by a dead replica, and any replica recovers it. Rows from before this revision have
  neither, and count as expired.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the lease columns (plain ADD COLUMN) and the index the expiry sweep reads."""
    op.add_column("jobs", sa.Column("lease_owner", sa.String(200)))
    op.add_column("jobs", sa.Column("lease_expires_at", UTCDateTime()))
    op.create_index("ix_jobs_status_lease", "jobs", ["status", "lease_expires_at"])


def downgrade() -> None:
    """Drop them (plain DROP COLUMN, SQLite 3.35+)."""
    op.drop_index("ix_jobs_status_lease", table_name="jobs")
    op.drop_column("jobs", "lease_expires_at")
    op.drop_column("jobs", "lease_owner")
