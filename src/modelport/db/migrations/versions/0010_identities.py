"""Identities are (issuer, subject): owners widened to hold both; token lineage; sign-ins shared.

- ``jobs.owner``, ``catalog_modules.owner``, ``api_tokens.owner`` hold ``<issuer>|<subject>``
  from now on (up to 500 characters; SQLite does not enforce lengths, so only PostgreSQL's
  columns are altered). Owners recorded before hold a bare subject: they match nobody but
  admins until an admin reassigns them.
- ``api_tokens.parent_id``: the token a token was minted with (revoked with it, never outliving
  it); ``api_tokens.session``: a browser session's token.
- ``pending_signins``: browser sign-ins between the redirect and the callback, in the database
  (every replica can finish one), bound to the browser that started it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OWNERS = (("jobs", "owner"), ("catalog_modules", "owner"), ("api_tokens", "owner"))


def upgrade() -> None:
    """Widen the owners (PostgreSQL), add token lineage and the pending sign-ins table."""
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _OWNERS:
            op.alter_column(table, column, type_=sa.String(500))
    op.add_column("api_tokens", sa.Column("parent_id", sa.String(32)))
    op.add_column(
        "api_tokens", sa.Column("session", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_api_tokens_parent_id", "api_tokens", ["parent_id"])
    op.create_table(
        "pending_signins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("binding_hash", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("verifier", sa.String(200), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Index("ix_pending_signins_client", "client", "expires_at"),
    )


def downgrade() -> None:
    """Drop what upgrade added (owners keep their width)."""
    op.drop_table("pending_signins")
    op.drop_index("ix_api_tokens_parent_id", "api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("session")
        batch.drop_column("parent_id")
