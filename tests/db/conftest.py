"""The database fixtures of tests/jobs (``store_url``: SQLite and PostgreSQL) serve here too."""

from tests.jobs.conftest import postgresql_url, sqlite_url, store_url

__all__ = ["postgresql_url", "sqlite_url", "store_url"]
