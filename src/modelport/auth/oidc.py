"""Verify OIDC bearer tokens (JWT access tokens) against their issuers' published keys.

The platform trusts a configured list of issuers (a Keycloak realm, EGI Check-in, ...). A token
is checked entirely by PyJWT: the issuer is picked by the token's unverified ``iss`` (unknown →
refused), the signing key by ``kid`` from that issuer's JWKS, then signature, ``exp``/``nbf``/
``iat`` (with ``leeway`` for clock skew), ``aud``, ``iss`` and the required claims. Only
asymmetric algorithms from a fixed allow-list are accepted, and the key's type must suit the
token's algorithm, so ``alg: none`` and HS256-signed-with-the-public-key are refused.

JWKS caching: each issuer's key set is kept for ``jwks_cache_seconds``. A token naming a ``kid``
the cache lacks (the issuer rotated its keys) triggers one refetch, but at most one per
``jwks_refetch_cooldown`` seconds per issuer, so a stream of tokens with made-up ``kid`` values
cannot turn into a stream of requests to the identity provider. A failed fetch is not retried
within the cool-down either.

Errors: every bad token raises :class:`InvalidToken` (an ``Unauthorized``, HTTP 401) with a short
message and a machine-readable ``reason``; an unreachable or broken identity provider raises
:class:`IdentityProviderUnavailable` (a ``StoreError``, HTTP 503).

``TokenVerifier.verify`` is synchronous and may do network I/O on a cache miss: call it from a
worker thread in async code (``anyio.to_thread.run_sync``). It is safe to share between threads.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
import jwt

from modelport.auth.config import SUPPORTED_ALGORITHMS, IssuerConfig, OidcConfig, Principal
from modelport.auth.roles import claim_values, map_roles
from modelport.errors import IdentityProviderUnavailable, InvalidToken

MAX_TOKEN_LENGTH = 16 * 1024  # far above any real access token; cheap to refuse before parsing


class _IssuerKeys:
    """One issuer's JWKS, fetched lazily, cached, refetched on rotation within the cool-down."""

    def __init__(
        self,
        config: IssuerConfig,
        oidc: OidcConfig,
        http: httpx.Client,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self._oidc = oidc
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks_uri = config.jwks_uri
        self._jwks: dict[str, dict[str, Any]] | None = None  # kid ("" when absent) → JWK
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}  # (kid, alg) → key, built on use
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._failure: str | None = None

    def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The key to check a token signed with ``alg`` by key ``kid``."""
        with self._lock:
            now = self._clock()
            if self._jwks is None or now - self._fetched_at >= self._oidc.jwks_cache_seconds:
                self._refresh(now)
            jwk = self._find(kid)
            if jwk is None and self._may_refetch(now):
                self._refresh(now)
                jwk = self._find(kid)
            if jwk is None:
                raise InvalidToken("token is signed with an unknown key", "unknown_key")
            return self._build(kid or "", jwk, alg)

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        assert self._jwks is not None
        if kid is not None:
            return self._jwks.get(kid)
        # No kid in the token: only unambiguous when the issuer publishes a single key.
        return next(iter(self._jwks.values())) if len(self._jwks) == 1 else None

    def _may_refetch(self, now: float) -> bool:
        return (
            self._attempted_at is None
            or now - self._attempted_at >= self._oidc.jwks_refetch_cooldown
        )

    def _build(self, kid: str, jwk: dict[str, Any], alg: str) -> jwt.PyJWK:
        cached = self._keys.get((kid, alg))
        if cached is not None:
            return cached
        # The allow-list fixed alg already; the key must be of its type and, if it names an
        # algorithm, of that very one (RFC 8725 §3.1), or a key could serve a foreign algorithm.
        if jwk.get("kty") != SUPPORTED_ALGORITHMS[alg] or jwk.get("alg", alg) != alg:
            raise InvalidToken("token algorithm does not fit its signing key", "algorithm")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
        except jwt.PyJWTError as exc:
            raise InvalidToken("token's signing key is unusable", "unknown_key") from exc
        self._keys[(kid, alg)] = key
        return key

    def _refresh(self, now: float) -> None:
        """Fetch the JWKS (discovering its URL first if needed); failures wait out the cool-down."""
        if self._failure is not None and not self._may_refetch(now):
            raise IdentityProviderUnavailable(self._failure)
        self._attempted_at = now
        try:
            if self._jwks_uri is None:
                self._jwks_uri = self._discover()
            jwks = self._parse_jwks(self._get_json(self._jwks_uri, "JWKS"))
        except IdentityProviderUnavailable as exc:
            self._failure = exc.message
            raise
        self._jwks, self._keys, self._fetched_at, self._failure = jwks, {}, now, None

    def _discover(self) -> str:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url, "discovery document")
        # OIDC Discovery §4.3: the document must name the very issuer it was fetched for.
        if document.get("issuer") != self.config.issuer:
            raise IdentityProviderUnavailable(
                f"discovery document of {self.config.issuer} names another issuer"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IdentityProviderUnavailable(
                f"discovery document of {self.config.issuer} has no valid jwks_uri"
            )
        return jwks_uri

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, timeout=self._oidc.http_timeout)
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPStatusError as exc:
            raise IdentityProviderUnavailable(
                f"cannot fetch the {what} of {self.config.issuer}: HTTP {exc.response.status_code}"
            ) from exc
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable(
                f"cannot fetch the {what} of {self.config.issuer}: {type(exc).__name__}"
            ) from exc
        except ValueError as exc:
            raise IdentityProviderUnavailable(
                f"the {what} of {self.config.issuer} is not JSON"
            ) from exc
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable(
                f"the {what} of {self.config.issuer} is not an object"
            )
        return document

    def _parse_jwks(self, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise IdentityProviderUnavailable(f"the JWKS of {self.config.issuer} has no key list")
        usable: dict[str, dict[str, Any]] = {}
        for key in keys:
            # Encryption keys and symmetric ("oct") keys never verify a signature here.
            if (
                isinstance(key, dict)
                and key.get("kty") in {"RSA", "EC", "OKP"}
                and key.get("use", "sig") == "sig"
            ):
                kid = key.get("kid")
                usable[kid if isinstance(kid, str) else ""] = key
        return usable


class TokenVerifier:
    """Checks bearer tokens of the configured issuers and turns them into a :class:`Principal`."""

    def __init__(
        self,
        config: OidcConfig,
        http: httpx.Client | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=config.http_timeout)
        self._issuers = {
            issuer.issuer: _IssuerKeys(issuer, config, self._http, clock)
            for issuer in config.issuers
        }

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`InvalidToken` for any invalid one."""
        claims, issuer = self._decode(token, None)
        return self._principal(claims, issuer)

    def verify_id_token(self, token: str, client_id: str, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token issued to ``client_id`` for the sign-in ``nonce``."""
        claims, _ = self._decode(token, client_id)
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
            claims["nonce"], nonce
        ):
            raise InvalidToken("ID token does not belong to this sign-in (nonce)", "invalid")
        return claims

    def _decode(self, token: str, audience: str | None) -> tuple[dict[str, Any], str]:
        """Check ``token`` (for ``audience``, default: its issuer's); its claims and issuer."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed token", "malformed")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token", "malformed") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.config.algorithms:
            raise InvalidToken("token algorithm is not allowed", "algorithm")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed token", "malformed")
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidToken("token issuer is not trusted", "unknown_issuer")
        key = issuer.key_for(kid, alg)
        expected = audience if audience is not None else issuer.config.audience
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.config.algorithms,
                audience=expected,
                issuer=issuer.config.issuer,
                leeway=self.config.leeway,
                options={
                    "require": list(self.config.required_claims),
                    "verify_aud": expected is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc) from exc
        return claims, issuer.config.issuer

    def _principal(self, claims: dict[str, Any], issuer: str) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no subject", "missing_claim")
        exp = claims.get("exp")

        def text(name: str) -> str | None:
            value = claims.get(name)
            return value if isinstance(value, str) else None

        return Principal(
            subject=subject,
            issuer=issuer,
            name=text("name"),
            email=text("email"),
            preferred_username=text("preferred_username"),
            groups=tuple(claim_values(claims, "groups")),
            entitlements=tuple(claim_values(claims, "eduperson_entitlement")),
            realm_roles=tuple(claim_values(claims, "realm_access.roles")),
            roles=map_roles(claims, self.config.role_rules),
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
            claims=claims,
        )

    def close(self) -> None:
        """Close the HTTP client, if this verifier created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _refusal(exc: jwt.PyJWTError) -> InvalidToken:
    """Our error for PyJWT's: a short message that names the check, never the token's content."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return InvalidToken("token has expired", "expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return InvalidToken("token is not yet valid", "not_yet_valid")
    if isinstance(exc, jwt.InvalidAudienceError):
        return InvalidToken("token is not meant for this service (audience)", "audience")
    if isinstance(exc, jwt.InvalidIssuerError):
        return InvalidToken("token issuer is not trusted", "unknown_issuer")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return InvalidToken(f"token lacks the required claim '{exc.claim}'", "missing_claim")
    if isinstance(exc, jwt.InvalidSignatureError):
        return InvalidToken("token signature is invalid", "signature")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return InvalidToken("token algorithm is not allowed", "algorithm")
    if isinstance(exc, jwt.DecodeError):
        return InvalidToken("malformed token", "malformed")
    return InvalidToken("invalid token", "invalid")
