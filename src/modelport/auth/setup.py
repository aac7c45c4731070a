"""Assemble authentication from the settings: who callers are, their tokens, browser sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelport.auth.authenticator import Authenticator
from modelport.auth.config import AuthSettings
from modelport.auth.token_service import TokenService

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from modelport.auth.signin import SignIn


@dataclass(frozen=True)
class AuthServices:
    """What an app with authentication on runs: the authenticator its middleware calls, the
    token use cases, and browser sign-in (None without an OIDC client id)."""

    authenticator: Authenticator
    tokens: TokenService
    signin: SignIn | None

    def close(self) -> None:
        """Release the HTTP clients, and the token database if it was opened here."""
        if self.signin is not None:
            self.signin.close()
        self.authenticator.close()


def build_auth(settings: AuthSettings, engine: Engine | None = None) -> AuthServices | None:
    """The authentication ``settings`` ask for (None when auth is off); tokens and pending
    sign-ins live in ``engine``.

    Without ``engine``, one is opened (and migrated) on ``settings.store_url()``, and closed
    with the services. Raises ValueError when auth is on but no issuer is configured.
    """
    if settings.auth == "off":
        return None
    if settings.oidc is None:
        raise ValueError(
            "auth = oidc needs the trusted issuers: set MODELPORT_OIDC to JSON, e.g. "
            '{"issuers": [{"issuer": "https://login.example/realms/x", "audience": "modelport"}]}'
        )
    from modelport.auth.oidc import TokenVerifier
    from modelport.auth.tokens import TokenStore

    owns_store = engine is None
    if engine is None:
        from modelport.db import connect

        engine = connect(settings.store_url(), settings.migrate, settings.migrate_timeout)
    verifier, store = TokenVerifier(settings.oidc), TokenStore(engine)
    authenticator = Authenticator(settings, verifier, store, owns_store=owns_store)
    signin = None
    if settings.oidc_client_id:
        from modelport.auth.pending import PendingSignins
        from modelport.auth.signin import SignIn

        signin = SignIn(settings, verifier, PendingSignins(engine))
    return AuthServices(authenticator, TokenService(store), signin)
