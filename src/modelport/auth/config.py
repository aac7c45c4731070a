"""Authentication and quota configuration, the Principal and its Audience: plain, cheap to import.

Kept apart from ``oidc`` (PyJWT, cryptography, httpx) so that ``Settings`` can describe the
configuration without loading the verification stack in processes that never verify a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelport.auth.roles import DEFAULT_RULES, RoleRule

# Asymmetric algorithms only: a symmetric one would need a shared secret, never a public JWKS.
SUPPORTED_ALGORITHMS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}


class IssuerConfig(BaseModel):
    """One trusted token issuer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, description="the exact `iss` value of its tokens")
    jwks_uri: str | None = Field(
        None,
        description="its JWKS URL; default: read from <issuer>/.well-known/openid-configuration",
    )
    audience: str | list[str] | None = Field(
        None, description="accepted `aud` value(s); None skips the audience check"
    )

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class OidcConfig(BaseModel):
    """Which issuers to trust, how strictly to check their tokens, and how to map roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuers: list[IssuerConfig] = Field(min_length=1)
    leeway: float = Field(60, ge=0, le=600, description="seconds of clock skew tolerated")
    required_claims: list[str] = Field(default_factory=lambda: ["exp", "iat", "sub"])
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    jwks_cache_seconds: float = Field(600, gt=0, description="how long a fetched JWKS is used")
    jwks_refetch_cooldown: float = Field(
        30, ge=0, description="least seconds between two JWKS fetches of one issuer on a miss"
    )
    http_timeout: float = Field(5.0, gt=0, description="seconds for discovery and JWKS requests")
    role_rules: list[RoleRule] = Field(default_factory=lambda: list(DEFAULT_RULES))

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if bad:
            raise ValueError(
                f"unsupported algorithm(s) {', '.join(bad)}; allowed: "
                + ", ".join(SUPPORTED_ALGORITHMS)
            )
        return value

    @field_validator("required_claims")
    @classmethod
    def _expiring(cls, value: list[str]) -> list[str]:
        if "exp" not in value:
            raise ValueError("'exp' must be required: a token without expiry is valid forever")
        return value

    @model_validator(mode="after")
    def _distinct_issuers(self) -> OidcConfig:
        names = [i.issuer for i in self.issuers]
        if len(names) != len(set(names)):
            raise ValueError("each issuer may be configured only once")
        return self


#: Between issuer and subject in an identity key (no issuer URL holds it unencoded).
IDENTITY_SEPARATOR = "|"


def identity_key(issuer: str, subject: str) -> str:
    """The key ownership, quotas and tokens hang on: ``<issuer>|<subject>``.

    A subject alone names nobody: two issuers may hand out the same one.
    """
    return f"{issuer}{IDENTITY_SEPARATOR}{subject}"


def split_identity(key: str) -> tuple[str | None, str]:
    """(issuer, subject) of an identity key; (None, key) for a bare subject recorded before
    identities had issuers (such records match nobody but admins)."""
    issuer, separator, subject = key.partition(IDENTITY_SEPARATOR)
    return (issuer, subject) if separator else (None, key)


@dataclass(frozen=True)
class Audience:
    """Who is reading the catalog, as its visibility filter needs it (None where all is seen)."""

    subject: str
    groups: tuple[str, ...] = ()


class Principal(BaseModel):
    """Who a verified token speaks for, and the modelport roles its claims grant."""

    model_config = ConfigDict(frozen=True)

    subject: str
    issuer: str
    name: str | None = None
    email: str | None = None
    preferred_username: str | None = None
    groups: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()
    realm_roles: tuple[str, ...] = ()
    roles: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    claims: dict[str, Any] = Field(default_factory=dict, repr=False)
    scopes: frozenset[str] | None = Field(
        None, description="an API token's scopes; None (OIDC, local) = every scope"
    )
    token_id: str | None = Field(None, description="the API token used, if any")

    def has_role(self, role: str) -> bool:
        """Whether the token grants ``role`` (``admin`` grants every role)."""
        return role in self.roles or "admin" in self.roles

    def has_scope(self, scope: str) -> bool:
        """Whether the credential may be used for ``scope`` (API tokens are scoped)."""
        return self.scopes is None or scope in self.scopes or "admin" in self.scopes

    @property
    def identity(self) -> str:
        """The (issuer, subject) pair as one key: what owns jobs, modules, tokens, quotas."""
        return identity_key(self.issuer, self.subject)

    @property
    def is_admin(self) -> bool:
        """Whether this principal administers the platform."""
        return "admin" in self.roles and self.has_scope("admin")


ALL_ROLES = frozenset({"admin", "publisher", "trainer", "user"})
LOCAL_PRINCIPAL = Principal(
    subject="local", issuer="modelport:local", name="Local user", roles=ALL_ROLES
)
"""Everyone is this admin in single-user local mode (auth = off)."""


class AuthSettings(Protocol):
    """What authentication reads of the platform's settings; ``modelport.settings.Settings``
    fits. Auth sits below settings (which is built of this module's types), so it names the
    fields it needs instead of importing the class."""

    @property
    def auth(self) -> str: ...

    @property
    def oidc(self) -> OidcConfig | None: ...

    @property
    def oidc_client_id(self) -> str | None: ...

    @property
    def oidc_client_secret(self) -> str | None: ...

    @property
    def oidc_scopes(self) -> str: ...

    @property
    def migrate(self) -> Literal["auto", "wait"]: ...

    @property
    def migrate_timeout(self) -> float: ...

    def store_url(self) -> str: ...
