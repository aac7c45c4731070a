"""Turn a request's credentials into a :class:`Principal`: OIDC access token or API token.

``Authorization: Bearer mp_...`` is a modelport API token (checked against the token store);
any other bearer token is an OIDC access token (checked against the trusted issuers' keys).
With ``auth = off`` (single-user local mode) every caller is :data:`LOCAL_PRINCIPAL`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.errors import Unauthorized
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.auth.oidc import TokenVerifier
    from modelport.auth.tokens import TokenStore

API_TOKEN_PREFIX = "mp_"  # noqa: S105 - a public prefix, not a secret


class Authenticator:
    """Verify bearer credentials; blocking (JWKS fetches, database): call from a thread."""

    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier | None = None,
        tokens: TokenStore | None = None,
    ) -> None:
        self.enabled = settings.auth != "off"
        self.verifier = verifier
        self.tokens = tokens

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
            return Principal(
                subject=record.owner,
                issuer="modelport:api-token",
                roles=frozenset(record.roles),
                groups=tuple(record.groups),
                scopes=frozenset(record.scopes),
                token_id=record.id,
            )
        if self.verifier is None:
            raise Unauthorized("OIDC tokens are not accepted by this server")
        return self.verifier.verify(credentials)
