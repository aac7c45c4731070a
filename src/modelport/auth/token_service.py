"""API tokens and browser sessions, as the edges use them: the rules over a TokenStore.

The edges (``/auth/...``) call this service and never the store: it checks what a caller may
grant, bounds a token minted with another one by it, lets an admin revoke anyone's token and
everyone else only their own, and ends a browser session. ``ApiToken`` and ``IssuedToken``
are re-exported for the edges' response models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from modelport.auth.config import Principal
from modelport.auth.tokens import ApiToken, IssuedToken, TokenStore, grantable_scopes
from modelport.errors import Forbidden, Unauthorized

__all__ = [
    "MAX_TOKEN_DAYS",
    "SESSION_TOKEN_NAME",
    "ApiToken",
    "IssuedToken",
    "TokenService",
    "display_name",
]

MAX_TOKEN_DAYS = 365
SESSION_TOKEN_NAME = "browser session"  # noqa: S105 - a label, not a secret


def display_name(principal: Principal) -> str | None:
    """What to call the owner of a token: name, else username, else email (None: the subject)."""
    return principal.name or principal.preferred_username or principal.email


class TokenService:
    """The token use cases: issue, list, revoke, and a browser session's start and end."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    def grantable(self, principal: Principal) -> list[str]:
        """The scopes ``principal`` may put in a new token."""
        return grantable_scopes(principal)

    def issue(
        self, principal: Principal, name: str, scopes: Sequence[str], days: int
    ) -> IssuedToken:
        """A new token of ``principal``'s for ``days`` (at most MAX_TOKEN_DAYS); Forbidden
        beyond its grantable scopes. Minted with an API token (not a signed-in browser): bounded
        by it and revoked with it."""
        allowed = grantable_scopes(principal)
        beyond = sorted(set(scopes) - set(allowed))
        if beyond:
            raise Forbidden(
                f"you may not grant the scope(s) {', '.join(beyond)}; "
                f"yours: {', '.join(allowed) or 'none'}"
            )
        parent = self._store.get(principal.token_id) if principal.token_id else None
        return self._store.issue(
            principal.identity,
            name,
            scopes,
            timedelta(days=min(days, MAX_TOKEN_DAYS)),
            roles=sorted(principal.roles),
            groups=principal.groups,
            owner_name=display_name(principal),
            parent=parent if parent is not None and not parent.session else None,
        )

    def owned(self, principal: Principal) -> list[ApiToken]:
        """``principal``'s tokens, newest first (revoked and expired included)."""
        return self._store.owned_by(principal.identity)

    def revoke(self, principal: Principal, token_id: str) -> ApiToken:
        """Revoke a token (and those minted with it): an admin's any, else the caller's own;
        NotFound otherwise."""
        return self._store.revoke(token_id, None if principal.is_admin else principal.identity)

    def start_session(self, principal: Principal, hours: float) -> IssuedToken:
        """A browser session for a signed-in ``principal``: a token with its grantable scopes
        (``read`` when none), for ``hours``."""
        return self._store.issue(
            principal.identity,
            SESSION_TOKEN_NAME,
            grantable_scopes(principal) or ["read"],
            timedelta(hours=hours),
            roles=sorted(principal.roles),
            groups=principal.groups,
            owner_name=display_name(principal),
            session=True,
        )

    def end_session(self, session: str) -> None:
        """Revoke the session token ``session`` if it is still valid."""
        try:
            record = self._store.verify(session)
        except Unauthorized:
            return
        self._store.revoke(record.id, record.owner)
