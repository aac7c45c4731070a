"""Database access: engine, tables, Alembic migrations (SQLite by default, PostgreSQL by URL)."""

from modelport.db.engine import connect

__all__ = ["connect"]
