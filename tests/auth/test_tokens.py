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


def test_a_token_minted_with_a_token_is_bounded_by_it(tokens: TokenStore) -> None:
    parent = tokens.issue("ada", "ci", ["predict", "read"], timedelta(days=1)).record
    child = tokens.issue("ada", "job", ["read"], timedelta(days=30), parent=parent).record
    assert child.parent_id == parent.id
    assert child.expires_at == parent.expires_at  # asked 30 days, got the parent's one
    never = tokens.issue("ada", "x", ["read"], None, parent=parent).record
    assert never.expires_at == parent.expires_at
    with pytest.raises(InvalidInput) as wider:
        tokens.issue("ada", "more", ["read", "train"], parent=parent)
    assert wider.value.errors == {"scopes": ["Not in the token used: train."]}
    admin = tokens.issue("root", "ops", ["admin"]).record
    assert tokens.issue("root", "any", ["train"], parent=admin).record.scopes == ["train"]


def test_revoking_a_token_revokes_its_descendants_only(tokens: TokenStore) -> None:
    parent = tokens.issue("ada", "ci", ["read"])
    child = tokens.issue("ada", "child", ["read"], parent=parent.record)
    grandchild = tokens.issue("ada", "grandchild", ["read"], parent=child.record)
    sibling = tokens.issue("ada", "sibling", ["read"])
    tokens.revoke(parent.record.id, "ada")
    for gone in (parent, child, grandchild):
        with pytest.raises(Unauthorized):
            tokens.verify(gone.token)
    assert tokens.verify(sibling.token).owner == "ada"
    # revoking again changes nothing, and a child revoked alone leaves its parent alone
    tokens.revoke(parent.record.id, "ada")
    other = tokens.issue("ada", "other", ["read"])
    its_child = tokens.issue("ada", "c", ["read"], parent=other.record)
    tokens.revoke(its_child.record.id, "ada")
    assert tokens.verify(other.token).id == other.record.id


def test_get_finds_a_record_or_says_not_found(tokens: TokenStore) -> None:
    issued = tokens.issue("ada", "ci", ["read"], session=True)
    assert tokens.get(issued.record.id).session is True
    with pytest.raises(NotFound):
        tokens.get("0" * 16)
