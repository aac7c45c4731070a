from __future__ import annotations

import pytest
import yaml

from tests.catalog.samples import FIXTURES


@pytest.fixture
def minimal() -> dict[str, object]:
    """The minimal v2 metadata as a fresh mapping, for tests to break."""
    data: dict[str, object] = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    return data


# The database fixtures of tests/jobs (``store_url``: SQLite and PostgreSQL) serve here too.
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url  # noqa: E402

__all__ = ["postgresql_url", "sqlite_url", "store_url"]
