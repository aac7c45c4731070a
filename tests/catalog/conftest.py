from __future__ import annotations

import pytest
import yaml

from tests.catalog.samples import FIXTURES


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed identity, and no user or system git configuration leaking into the tests."""
    for key, value in {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def minimal() -> dict[str, object]:
    """The minimal v2 metadata as a fresh mapping, for tests to break."""
    data: dict[str, object] = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    return data


# The database fixtures of tests/jobs (``store_url``: SQLite and PostgreSQL) serve here too.
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url  # noqa: E402

__all__ = ["postgresql_url", "sqlite_url", "store_url"]
