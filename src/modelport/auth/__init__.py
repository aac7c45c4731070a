"""Authentication and authorization: OIDC bearer tokens, role mapping, API tokens.

``oidc`` verifies JWT access tokens against trusted issuers' JWKS and yields a
:class:`Principal`; ``roles`` maps its claims to modelport roles by configurable rules;
``tokens`` (imported on its own, it needs the database) keeps API tokens for machines and CI.
"""

from __future__ import annotations

from modelport.auth.oidc import (
    IdentityProviderUnavailable,
    InvalidToken,
    IssuerConfig,
    OidcConfig,
    Principal,
    TokenVerifier,
)
from modelport.auth.roles import DEFAULT_RULES, RoleRule, has_access, map_roles

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
