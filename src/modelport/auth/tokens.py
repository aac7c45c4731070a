"""API tokens for machines and CI: shown once, stored hashed, scoped, expiring, revocable.

A token reads ``mp_<id>_<secret>``: the id (public, 16 hex) finds the record, the secret (32
random bytes, URL-safe base64) is checked against its SHA-256, compared in constant time. A
high-entropy random secret needs no slow password hash: SHA-256 cannot be reversed, and the
database never holds anything that works as a credential.

A token minted with another API token (``parent``) never outlives it, never holds a scope it
lacks, and is revoked with it (revoking revokes every descendant). A browser session is a token
too (``session``); tokens created from a signed-in browser are the user's own, not its children.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, insert, select, update

from modelport.auth.config import Principal
from modelport.clock import utcnow
from modelport.db.engine import transaction
from modelport.db.tables import api_tokens
from modelport.errors import InvalidInput, NotFound, Unauthorized

PREFIX = "mp_"
SCOPES = ("predict", "train", "publish", "read", "admin")
LAST_USED_PRECISION = timedelta(minutes=1)
# The role a scope is useful with: a token never carries a scope its owner's roles cannot use.
SCOPE_ROLES = {
    "predict": "user",
    "read": "user",
    "train": "trainer",
    "publish": "publisher",
    "admin": "admin",
}


def grantable_scopes(principal: Principal) -> list[str]:
    """The scopes ``principal`` may put in a new token: its roles' scopes its credential has."""
    return [
        s for s, role in SCOPE_ROLES.items() if principal.has_role(role) and principal.has_scope(s)
    ]


class ApiToken(BaseModel):
    """A token's record (never its secret)."""

    id: str
    owner: str
    owner_name: str | None = Field(None, description="the owner's display name when issued")
    name: str
    scopes: list[str]
    roles: list[str] = Field(default_factory=list, description="the owner's roles when issued")
    groups: list[str] = Field(default_factory=list, description="the owner's groups when issued")
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    parent_id: str | None = Field(None, description="the API token it was minted with")
    session: bool = Field(False, description="a browser session's token")

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


class IssuedToken(BaseModel):
    """A new token: its record and the secret, shown this once."""

    token: str = Field(description="Show it to the user once; it is not stored")
    record: ApiToken


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """API tokens in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _tx(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine)

    def issue(
        self,
        owner: str,
        name: str,
        scopes: Sequence[str],
        expires_in: timedelta | None = timedelta(days=90),
        *,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        owner_name: str | None = None,
        parent: ApiToken | None = None,
        session: bool = False,
    ) -> IssuedToken:
        """Create a token; the returned secret is never shown again.

        ``parent``: the API token the request came with: the new one expires no later, holds
        no scope it lacks, and is revoked with it.
        """
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise InvalidInput({"scopes": [f"Each must be one of: {', '.join(SCOPES)}."]})
        if not name.strip():
            raise InvalidInput({"name": ["Must not be empty."]})
        now = utcnow()
        expires_at = now + expires_in if expires_in is not None else None
        if parent is not None:
            beyond = sorted(set(scopes) - set(parent.scopes))
            if beyond and "admin" not in parent.scopes:  # an admin token may grant any scope
                raise InvalidInput({"scopes": [f"Not in the token used: {', '.join(beyond)}."]})
            if parent.expires_at is not None:
                expires_at = min(expires_at or parent.expires_at, parent.expires_at)
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        record = ApiToken(
            id=token_id,
            owner=owner,
            owner_name=owner_name[:200] if owner_name else None,
            name=name.strip(),
            scopes=sorted(set(scopes)),
            roles=sorted(set(roles)),
            groups=sorted(set(groups)),
            created_at=now,
            expires_at=expires_at,
            parent_id=parent.id if parent is not None else None,
            session=session,
        )
        with self._tx() as conn:
            conn.execute(
                insert(api_tokens).values(token_hash=_digest(secret), **record.model_dump())
            )
        return IssuedToken(token=f"{PREFIX}{token_id}_{secret}", record=record)

    def verify(self, token: str) -> ApiToken:
        """The active token ``token`` stands for; Unauthorized otherwise (never says why)."""
        token_id, _, secret = token.removeprefix(PREFIX).partition("_")
        refused = Unauthorized("invalid, expired or revoked API token")
        if not token.startswith(PREFIX) or not token_id or not secret:
            raise refused
        with self._tx() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
            if row is None or not hmac.compare_digest(row.token_hash, _digest(secret)):
                raise refused
            record = ApiToken.model_validate(row._mapping)
            if not record.active:
                raise refused
            now = utcnow()
            # At most one write per token a minute: a busy client must not serialise on it.
            if record.last_used_at is None or now - record.last_used_at >= LAST_USED_PRECISION:
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
                )
                record = record.model_copy(update={"last_used_at": now})
        return record

    def owned_by(self, owner: str) -> list[ApiToken]:
        """An owner's tokens, newest first (revoked and expired included)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(api_tokens)
                .where(api_tokens.c.owner == owner)
                .order_by(api_tokens.c.created_at.desc())
            ).all()
        return [ApiToken.model_validate(r._mapping) for r in rows]

    def get(self, token_id: str) -> ApiToken:
        """A token's record; NotFound when there is none."""
        with self._tx() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"token '{token_id}' not found")
        return ApiToken.model_validate(row._mapping)

    def revoke(self, token_id: str, owner: str | None) -> ApiToken:
        """Revoke one of ``owner``'s tokens (None: anyone's) and every token minted with it,
        at any depth; idempotent; NotFound otherwise."""
        condition = api_tokens.c.id == token_id
        if owner is not None:
            condition = condition & (api_tokens.c.owner == owner)
        with self._tx() as conn:
            row = conn.execute(select(api_tokens).where(condition)).first()
            if row is None:
                raise NotFound(f"token '{token_id}' not found")
            record = ApiToken.model_validate(row._mapping)
            now = utcnow()
            if record.revoked_at is None:
                record = record.model_copy(update={"revoked_at": now})
            lineage, frontier = [token_id], [token_id]
            while frontier:
                children = conn.execute(
                    select(api_tokens.c.id).where(api_tokens.c.parent_id.in_(frontier))
                ).scalars()
                frontier = [c for c in children if c not in lineage]
                lineage += frontier
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id.in_(lineage), api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return record
