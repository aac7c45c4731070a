"""Authentication and authorization: OIDC bearer tokens, role mapping, API tokens, quotas.

``config`` holds the configuration models and :class:`Principal` (cheap to import); ``oidc``
verifies JWT access tokens against trusted issuers' JWKS (PyJWT; imported on first use);
``roles`` maps claims to modelport roles by configurable rules; ``tokens`` (it needs the
database) keeps API tokens for machines and CI; ``quotas`` checks per-user and per-group limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelport.auth.config import IssuerConfig, OidcConfig, Principal
from modelport.auth.roles import DEFAULT_RULES, RoleRule, has_access, map_roles
from modelport.errors import IdentityProviderUnavailable, InvalidToken

if TYPE_CHECKING:
    from modelport.auth.oidc import TokenVerifier

__all__ = [
    "DEFAULT_RULES",
    "IdentityProviderUnavailable",
    "InvalidToken",
    "IssuerConfig",
    "OidcConfig",
    "Principal",
    "RoleRule",
    "TokenVerifier",
    "has_access",
    "map_roles",
]


def __getattr__(name: str) -> Any:
    if name == "TokenVerifier":  # PyJWT and cryptography load only when tokens are verified
        from modelport.auth.oidc import TokenVerifier

        return TokenVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
