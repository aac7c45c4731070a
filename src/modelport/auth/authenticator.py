"""Turn a request's credentials into a :class:`Principal`: OIDC access token or API token.

``Authorization: Bearer mp_...`` is a modelport API token (checked against the token store);
any other bearer token is an OIDC access token (checked against the trusted issuers' keys).
With ``auth = off`` (single-user local mode) every caller is :data:`LOCAL_PRINCIPAL`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.auth.config import LOCAL_PRINCIPAL, AuthSettings, Principal, split_identity
from modelport.errors import Unauthorized

if TYPE_CHECKING:
    from modelport.auth.oidc import TokenVerifier
    from modelport.auth.tokens import TokenStore

API_TOKEN_PREFIX = "mp_"  # noqa: S105 - a public prefix, not a secret


class Authenticator:
    """Verify bearer credentials; blocking (JWKS fetches, database): call from a thread."""

    def __init__(
        self,
        settings: AuthSettings,
        verifier: TokenVerifier | None = None,
        tokens: TokenStore | None = None,
        *,
        owns_store: bool = False,
    ) -> None:
        self.enabled = settings.auth != "off"
        self.verifier = verifier
        self.tokens = tokens
        self._owns_store = owns_store

    def authenticate(self, credentials: str | None) -> Principal:
        """Who ``credentials`` (a bearer token, or None) stand for; Unauthorized if nobody."""
        if not self.enabled:
            return LOCAL_PRINCIPAL
        if not credentials:
            raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
        if credentials.startswith(API_TOKEN_PREFIX):
            if self.tokens is None:
                raise Unauthorized("API tokens are not accepted by this server")
            record = self.tokens.verify(credentials)
            issuer, subject = split_identity(record.owner)
            return Principal(
                subject=subject,
                name=record.owner_name,
                # a token of a bare subject (recorded before issuers were) owns nothing
                issuer=issuer or "modelport:unknown-issuer",
                roles=frozenset(record.roles),
                groups=tuple(record.groups),
                scopes=frozenset(record.scopes),
                token_id=record.id,
            )
        if self.verifier is None:
            raise Unauthorized("OIDC tokens are not accepted by this server")
        return self.verifier.verify(credentials)

    def close(self) -> None:
        """Release the verifier's HTTP client, and the token database if this built it."""
        if self.verifier is not None:
            self.verifier.close()
        if self._owns_store and self.tokens is not None:
            self.tokens.engine.dispose()
