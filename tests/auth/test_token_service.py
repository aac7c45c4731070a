"""TokenService on SQLite and PostgreSQL: the token rules the ``/auth`` routes apply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from modelport.auth.config import Principal
from modelport.auth.token_service import MAX_TOKEN_DAYS, SESSION_TOKEN_NAME, TokenService
from modelport.auth.tokens import TokenStore
from modelport.db import connect
from modelport.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from modelport.jobs.domain import utcnow
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url

__all__ = ["postgresql_url", "sqlite_url", "store_url"]

ADA = Principal(subject="ada", issuer="test", name="Ada", roles=frozenset({"user", "trainer"}))
BOB = Principal(subject="bob", issuer="test", preferred_username="bob", roles=frozenset({"user"}))
ADA_ROLES = ["trainer", "user"]
ROOT = Principal(subject="root", issuer="test", roles=frozenset({"admin"}))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> TokenStore:
    return TokenStore(engine)


@pytest.fixture
def service(store: TokenStore) -> TokenService:
    return TokenService(store)


def with_token(principal: Principal, token_id: str, scopes: set[str]) -> Principal:
    """``principal`` calling with the API token ``token_id``."""
    return principal.model_copy(update={"token_id": token_id, "scopes": frozenset(scopes)})


def test_issue_records_the_caller(service: TokenService, store: TokenStore) -> None:
    issued = service.issue(ADA, "ci", ["predict", "train"], 30)
    record = store.verify(issued.token)
    assert (record.owner, record.owner_name, record.name) == (ADA.identity, "Ada", "ci")
    assert (record.scopes, record.roles, record.parent_id) == (
        ["predict", "train"],
        ADA_ROLES,
        None,
    )
    assert record.expires_at is not None
    assert abs(record.expires_at - (record.created_at + timedelta(days=30))) < timedelta(seconds=5)


def test_a_lifetime_is_capped(service: TokenService) -> None:
    record = service.issue(ADA, "ci", ["read"], MAX_TOKEN_DAYS * 10).record
    assert record.expires_at is not None
    assert record.expires_at - record.created_at <= timedelta(days=MAX_TOKEN_DAYS)


def test_scopes_beyond_the_callers_roles_are_forbidden(service: TokenService) -> None:
    assert service.grantable(BOB) == ["predict", "read"]
    with pytest.raises(Forbidden, match=r"the scope\(s\) publish, train; yours: predict, read"):
        service.issue(BOB, "ci", ["train", "publish", "read"], 30)
    nobody = Principal(subject="x", issuer="test")
    with pytest.raises(Forbidden, match="yours: none"):
        service.issue(nobody, "ci", ["read"], 30)


def test_a_token_minted_with_a_token_is_bounded_by_it(
    service: TokenService, store: TokenStore
) -> None:
    parent = store.issue(ADA.identity, "parent", ["read", "predict"], timedelta(days=2))
    caller = with_token(ADA, parent.record.id, {"read", "predict", "train"})
    child = service.issue(caller, "child", ["read"], 30).record
    assert child.parent_id == parent.record.id
    assert child.expires_at == parent.record.expires_at
    with pytest.raises(InvalidInput):  # train: a scope of ADA's, not of the token used
        service.issue(caller, "child", ["train"], 30)
    service.revoke(ADA, parent.record.id)
    assert store.get(child.id).revoked_at is not None


def test_a_token_minted_from_a_browser_session_is_the_users_own(
    service: TokenService, store: TokenStore
) -> None:
    session = service.start_session(ADA, 1)
    caller = with_token(ADA, session.record.id, set(session.record.scopes))
    child = service.issue(caller, "ci", ["read"], 30).record
    assert child.parent_id is None
    service.end_session(session.token)
    assert store.get(child.id).revoked_at is None


def test_an_unknown_token_of_the_caller_is_not_found(service: TokenService) -> None:
    with pytest.raises(NotFound):
        service.issue(with_token(ADA, "0123456789abcdef", {"read"}), "ci", ["read"], 30)


def test_owned_lists_the_callers_tokens(service: TokenService) -> None:
    first = service.issue(ADA, "one", ["read"], 30).record
    second = service.issue(ADA, "two", ["read"], 30).record
    service.issue(BOB, "bob's", ["read"], 30)
    assert {t.id for t in service.owned(ADA)} == {first.id, second.id}
    assert [t.name for t in service.owned(BOB)] == ["bob's"]


def test_revoke_the_callers_own_admins_anyones(service: TokenService) -> None:
    adas = service.issue(ADA, "ci", ["read"], 30).record
    with pytest.raises(NotFound, match=f"token '{adas.id}' not found"):
        service.revoke(BOB, adas.id)
    assert service.revoke(ROOT, adas.id).revoked_at is not None
    bobs = service.issue(BOB, "ci", ["read"], 30).record
    assert service.revoke(BOB, bobs.id).revoked_at is not None
    # an admin calling with a token without the admin scope is not an admin
    limited_root = with_token(ROOT, "whatever", {"read"})
    with pytest.raises(NotFound):
        service.revoke(limited_root, service.issue(ADA, "x", ["read"], 30).record.id)


def test_a_browser_session_starts_and_ends(service: TokenService, store: TokenStore) -> None:
    issued = service.start_session(BOB, 2)
    record = store.verify(issued.token)
    assert (record.name, record.session, record.owner_name) == (SESSION_TOKEN_NAME, True, "bob")
    assert record.scopes == ["predict", "read"]
    assert record.expires_at is not None
    assert record.expires_at - utcnow() <= timedelta(hours=2)
    service.end_session(issued.token)
    with pytest.raises(Unauthorized):
        store.verify(issued.token)
    service.end_session(issued.token)  # again: nothing to do
    service.end_session("mp_forged_secret")  # not a token: nothing to do


def test_a_session_of_someone_with_no_grantable_scope_can_read(service: TokenService) -> None:
    record = service.start_session(Principal(subject="x", issuer="test"), 1).record
    assert record.scopes == ["read"]
