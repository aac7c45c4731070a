"""API tokens on SQLite and PostgreSQL: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from modelport.auth.tokens import TokenStore
from modelport.db import connect
from modelport.db.tables import api_tokens
from modelport.errors import InvalidInput, NotFound, Unauthorized
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url

__all__ = ["postgresql_url", "sqlite_url", "store_url"]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tokens(engine: Engine) -> TokenStore:
    return TokenStore(engine)


def test_issue_verify_and_what_is_stored(tokens: TokenStore, engine: Engine) -> None:
    issued = tokens.issue("ada", "ci", ["predict", "train"])
    assert issued.token.startswith(f"mp_{issued.record.id}_")
    record = tokens.verify(issued.token)
    assert (record.owner, record.name, record.scopes) == ("ada", "ci", ["predict", "train"])
    assert record.last_used_at is not None
    assert record.expires_at is not None
    with engine.connect() as conn:
        stored = conn.execute(select(api_tokens)).one()
    secret = issued.token.rsplit("_", 1)[1]
    assert secret not in str(tuple(stored)), "the secret is never stored"
    assert len(stored.token_hash) == 64


@pytest.mark.parametrize(
    "forged",
    ["", "mp_", "nope", "mp_0123456789abcdef_x", "mp__secret"],
)
def test_unknown_tokens_are_refused(tokens: TokenStore, forged: str) -> None:
    tokens.issue("ada", "ci", ["read"])
    with pytest.raises(Unauthorized):
        tokens.verify(forged)


def test_a_wrong_secret_for_a_real_id_is_refused(tokens: TokenStore) -> None:
    issued = tokens.issue("ada", "ci", ["read"])
    with pytest.raises(Unauthorized):
        tokens.verify(f"mp_{issued.record.id}_{'A' * 43}")


def test_expired_and_revoked_tokens_are_refused(tokens: TokenStore) -> None:
    expired = tokens.issue("ada", "old", ["read"], expires_in=timedelta(seconds=-1))
    with pytest.raises(Unauthorized):
        tokens.verify(expired.token)
    live = tokens.issue("ada", "live", ["read"], expires_in=None)
    assert tokens.verify(live.token).expires_at is None
    revoked = tokens.revoke(live.record.id, "ada")
    assert revoked.revoked_at is not None
    assert not revoked.active
    with pytest.raises(Unauthorized):
        tokens.verify(live.token)
    assert tokens.revoke(live.record.id, "ada").revoked_at == revoked.revoked_at, "idempotent"


def test_owners_see_and_revoke_only_their_tokens(tokens: TokenStore) -> None:
    mine = tokens.issue("ada", "a", ["read"])
    tokens.issue("grace", "g", ["read"])
    assert [t.name for t in tokens.owned_by("ada")] == ["a"]
    with pytest.raises(NotFound):
        tokens.revoke(mine.record.id, "grace")
    assert tokens.verify(mine.token).owner == "ada"


def test_bad_requests(tokens: TokenStore) -> None:
    with pytest.raises(InvalidInput):
        tokens.issue("ada", "x", ["root"])
    with pytest.raises(InvalidInput):
        tokens.issue("ada", "x", [])
    with pytest.raises(InvalidInput):
        tokens.issue("ada", "  ", ["read"])
