"""The Open Catalog: modules, immutable versions, aliases, artifacts, facet terms, full text.

Full-text search is an FTS5 table on SQLite and a generated tsvector column with a GIN index on
PostgreSQL (both outside SQLAlchemy's table metadata, managed here).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelport.db.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_modules",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("deprecated", sa.Boolean, nullable=False),
        sa.Column("deprecation_message", sa.Text),
        sa.Column("latest_version", sa.String(100)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "catalog_versions",
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("load_spec", sa.String(500)),
        sa.Column("package", sa.String(200)),
        sa.Column("source_url", sa.Text),
        sa.Column("commit", sa.String(64)),
        sa.Column("published_by", sa.String(200)),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("job_id", sa.String(32)),
        sa.Column("base_version", sa.String(100)),
        sa.Column("data_url", sa.Text),
    )
    op.create_table(
        "catalog_aliases",
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(100), primary_key=True),
        sa.Column("version", sa.String(100), nullable=False),
    )
    op.create_table(
        "catalog_artifacts",
        sa.Column("module", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(200)),
    )
    op.create_table(
        "catalog_terms",
        sa.Column(
            "module",
            sa.String(200),
            sa.ForeignKey("catalog_modules.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("facet", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
    )
    op.create_index("ix_catalog_terms_facet_value", "catalog_terms", ["facet", "value"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE catalog_fts USING fts5("
            "name UNINDEXED, title, summary, description, tags, tokenize='porter unicode61')"
        )
    elif dialect == "postgresql":
        op.execute("ALTER TABLE catalog_modules ADD COLUMN search_text text NOT NULL DEFAULT ''")
        op.execute(
            "ALTER TABLE catalog_modules ADD COLUMN search tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(summary, '')), 'B') || "
            "setweight(to_tsvector('english', search_text), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_catalog_modules_search ON catalog_modules USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS catalog_fts")
    op.drop_table("catalog_terms")
    op.drop_table("catalog_artifacts")
    op.drop_table("catalog_aliases")
    op.drop_table("catalog_versions")
    op.drop_table("catalog_modules")
