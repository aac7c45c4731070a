"""OIDC bearer tokens against a real JWKS served over HTTP on 127.0.0.1, signed by PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from modelport.auth import (
    IdentityProviderUnavailable,
    InvalidToken,
    OidcConfig,
    Principal,
    RoleRule,
    TokenVerifier,
)
from modelport.auth.roles import DEFAULT_RULES
from modelport.errors import StoreError, Unauthorized
from tests.fixtures.oidc_provider import AUDIENCE, Idp, Key, claims_for, idp, keys

__all__ = ["idp", "keys"]  # fixtures


class Clock:
    """A monotonic clock the test moves by hand (for JWKS cache and cool-down)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


VerifierFactory = Callable[..., TokenVerifier]


@pytest.fixture
def new_verifier(idp: Idp, clock: Clock) -> Iterator[VerifierFactory]:
    """Builds verifiers (issuer "a" by default) on the test clock; closes them afterwards."""
    made: list[TokenVerifier] = []

    def make(discover: bool = False, **config: Any) -> TokenVerifier:
        default = {
            "issuer": idp.issuer("a"),
            "jwks_uri": None if discover else idp.jwks_uri("a"),
            "audience": AUDIENCE,
        }
        issuers = config.pop("issuers", [default])
        made.append(TokenVerifier(OidcConfig(issuers=issuers, **config), clock=clock))
        return made[-1]

    yield make
    for verifier in made:
        verifier.close()


@pytest.fixture
def verifier(idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory) -> TokenVerifier:
    idp.publish("a", keys["a1"])
    return new_verifier()


def refused(verifier: TokenVerifier, token: str, reason: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.reason == reason, caught.value.message
    assert isinstance(caught.value, Unauthorized)
    return caught.value


# -- valid tokens ---------------------------------------------------------------------------------


def test_valid_token_gives_a_principal_with_roles(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    rules = [
        *DEFAULT_RULES,
        RoleRule(claim="realm_access.roles", regex="access:[^:]+:ap-u", roles=["user"]),
    ]
    verifier = new_verifier(role_rules=rules)
    token = keys["a1"].sign(
        claims_for(
            idp.issuer("a"),
            name="Ada Lovelace",
            email="ada@example.org",
            preferred_username="ada",
            groups=["/vo.ai4eosc.eu"],
            eduperson_entitlement=["urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu"],
            realm_access={"roles": ["access:vo.ai4life.eu:ap-u", "offline_access"]},
        )
    )
    principal = verifier.verify(token)
    assert isinstance(principal, Principal)
    assert principal.subject == "user-1"
    assert principal.issuer == idp.issuer("a")
    assert (principal.name, principal.email, principal.preferred_username) == (
        "Ada Lovelace",
        "ada@example.org",
        "ada",
    )
    assert principal.groups == ("/vo.ai4eosc.eu",)
    assert principal.entitlements == (
        "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu",
    )
    assert principal.realm_roles == ("access:vo.ai4life.eu:ap-u", "offline_access")
    assert principal.roles == {
        "user",
        "group:vo.ai4eosc.eu",
        "group:vo.imagine-ai.eu",
        "group:vo.ai4life.eu",
        "access:vo.ai4life.eu:ap-u",
    }
    assert principal.has_role("user")
    assert principal.expires_at is not None
    assert principal.claims["email"] == "ada@example.org"
    assert "claims" not in repr(principal)  # raw claims stay out of logs


def test_minimal_token_has_no_optional_fields(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]
) -> None:
    principal = verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert principal.name is None
    assert principal.email is None
    assert principal.groups == ()
    assert principal.roles == frozenset()


def test_ec_keys_and_es256(idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory) -> None:
    idp.publish("a", keys["a1"], keys["b1"])
    verifier = new_verifier()
    assert verifier.verify(keys["b1"].sign(claims_for(idp.issuer("a")))).subject == "user-1"


# -- time -----------------------------------------------------------------------------------------


def test_expired_token_is_refused_but_leeway_tolerates_skew(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]
) -> None:
    now = int(time.time())
    skewed = keys["a1"].sign(claims_for(idp.issuer("a"), iat=now - 600, exp=now - 30))
    assert verifier.verify(skewed).subject == "user-1"  # within the default 60 s
    expired = keys["a1"].sign(claims_for(idp.issuer("a"), iat=now - 600, exp=now - 120))
    error = refused(verifier, expired, "expired")
    assert error.message == "token has expired"


def test_leeway_zero_refuses_any_expired_token(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(leeway=0)
    now = int(time.time())
    refused(verifier, keys["a1"].sign(claims_for(idp.issuer("a"), exp=now - 2)), "expired")


def test_not_yet_valid_token(verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]) -> None:
    now = int(time.time())
    refused(verifier, keys["a1"].sign(claims_for(idp.issuer("a"), nbf=now + 300)), "not_yet_valid")
    refused(verifier, keys["a1"].sign(claims_for(idp.issuer("a"), iat=now + 300)), "not_yet_valid")
    assert verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"), nbf=now + 30)))


# -- audience, issuer, claims ---------------------------------------------------------------------


def test_wrong_audience(verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]) -> None:
    error = refused(
        verifier, keys["a1"].sign(claims_for(idp.issuer("a"), aud="account")), "audience"
    )
    assert "audience" in error.message
    error = refused(
        verifier, keys["a1"].sign(claims_for(idp.issuer("a"), aud=None)), "missing_claim"
    )
    assert error.message == "token lacks the required claim 'aud'"
    # any one of several audiences in the token will do
    assert verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"), aud=["account", AUDIENCE])))


def test_audience_list_and_no_audience_check(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    many = new_verifier(
        issuers=[
            {"issuer": idp.issuer("a"), "jwks_uri": idp.jwks_uri("a"), "audience": ["x", "account"]}
        ],
    )
    assert many.verify(keys["a1"].sign(claims_for(idp.issuer("a"), aud="account")))
    refused(many, keys["a1"].sign(claims_for(idp.issuer("a"))), "audience")
    unchecked = new_verifier(issuers=[{"issuer": idp.issuer("a"), "jwks_uri": idp.jwks_uri("a")}])
    assert unchecked.verify(keys["a1"].sign(claims_for(idp.issuer("a"), aud="anything")))


def test_unknown_issuer(verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]) -> None:
    for iss in ("https://evil.example/realms/a", idp.issuer("a") + "/"):
        error = refused(
            verifier, keys["a1"].sign(claims_for(idp.issuer("a"), iss=iss)), "unknown_issuer"
        )
        assert "evil" not in error.message
    for odd in (42, [idp.issuer("a")], {"x": 1}):  # PyJWT will not sign these: built by hand
        header = _b64(json.dumps({"alg": "RS256", "kid": "a1"}).encode())
        payload = _b64(json.dumps(claims_for(idp.issuer("a"), iss=odd)).encode())
        refused(verifier, f"{header}.{payload}.{_b64(b'sig')}", "unknown_issuer")
    no_iss = claims_for(idp.issuer("a"))
    del no_iss["iss"]
    refused(verifier, keys["a1"].sign(no_iss), "unknown_issuer")
    assert idp.jwks_hits("a") == 0  # an untrusted issuer costs no request


@pytest.mark.parametrize("claim", ["sub", "iat", "exp"])
def test_missing_required_claim(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key], claim: str
) -> None:
    claims = claims_for(idp.issuer("a"))
    del claims[claim]
    error = refused(verifier, keys["a1"].sign(claims), "missing_claim")
    assert error.message == f"token lacks the required claim '{claim}'"


def test_configured_required_claims(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(required_claims=["exp", "iat", "sub", "email"])
    refused(verifier, keys["a1"].sign(claims_for(idp.issuer("a"))), "missing_claim")
    assert verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"), email="a@b.c")))
    # an empty subject is no subject, even when "sub" is not listed
    lax = new_verifier(required_claims=["exp"])
    refused(lax, keys["a1"].sign(claims_for(idp.issuer("a"), sub="")), "missing_claim")


# -- signatures and algorithms --------------------------------------------------------------------


def test_bad_signature_from_another_key_with_the_same_kid(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]
) -> None:
    forged = keys["evil"].sign(claims_for(idp.issuer("a")))
    error = refused(verifier, forged, "signature")
    assert error.message == "token signature is invalid"
    # a tampered payload under a genuine signature fails the same way
    header, _, signature = keys["a1"].sign(claims_for(idp.issuer("a"))).split(".")
    other = base64.urlsafe_b64encode(json.dumps(claims_for(idp.issuer("a"), sub="root")).encode())
    refused(verifier, f"{header}.{other.decode().rstrip('=')}.{signature}", "signature")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_alg_none_is_refused(verifier: TokenVerifier, idp: Idp) -> None:
    unsigned = jwt.encode(claims_for(idp.issuer("a")), "", algorithm="none", headers={"kid": "a1"})
    refused(verifier, unsigned, "algorithm")
    for alg in ("None", "NONE", ""):
        header = _b64(json.dumps({"alg": alg, "kid": "a1"}).encode())
        refused(
            verifier,
            f"{header}.{_b64(json.dumps(claims_for(idp.issuer('a'))).encode())}.",
            "algorithm",
        )


def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]
) -> None:
    # The classic key-confusion forgery: HMAC keyed with the issuer's public key (PEM or JWK).
    public_pem = (
        keys["a1"]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for secret in (public_pem, json.dumps(keys["a1"].jwk()).encode()):
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "a1"}).encode())
        payload = _b64(json.dumps(claims_for(idp.issuer("a"))).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        refused(verifier, f"{header}.{payload}.{_b64(mac)}", "algorithm")


def test_algorithm_must_fit_the_key(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"], keys["b1"])
    verifier = new_verifier(algorithms=["RS256", "ES256", "RS384"])
    # an RS256 token pointing at the EC key, and an RS384 token at a key published for RS256
    refused(verifier, keys["a1"].sign(claims_for(idp.issuer("a")), kid="b1"), "algorithm")
    rs384 = jwt.encode(
        claims_for(idp.issuer("a")), keys["a1"].private, algorithm="RS384", headers={"kid": "a1"}
    )
    refused(verifier, rs384, "algorithm")
    # not in the configured allow-list at all
    ps256 = jwt.encode(
        claims_for(idp.issuer("a")), keys["a1"].private, algorithm="PS256", headers={"kid": "a1"}
    )
    refused(verifier, ps256, "algorithm")


def test_symmetric_keys_in_a_jwks_are_ignored(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    jwks = {"keys": [keys["a1"].jwk(), {"kty": "oct", "kid": "shared", "k": _b64(b"s" * 32)}]}
    idp.routes["/realms/a/protocol/openid-connect/certs"] = (200, json.dumps(jwks).encode())
    verifier = new_verifier(algorithms=["RS256"])
    token = jwt.encode(
        claims_for(idp.issuer("a")), b"s" * 32, algorithm="HS256", headers={"kid": "shared"}
    )
    refused(verifier, token, "algorithm")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "x" * 20000, "bm90IGpzb24.e30.c2ln", "e30.bm90IGpzb24.c2ln", "..."],
)
def test_malformed_tokens(verifier: TokenVerifier, token: str) -> None:
    error = refused(verifier, token, "malformed")
    assert error.message == "malformed token"


def test_messages_do_not_echo_token_content(
    verifier: TokenVerifier, idp: Idp, keys: dict[str, Key]
) -> None:
    secretish = "user-with-a-very-identifying-name"
    now = int(time.time())
    for token in (
        keys["a1"].sign(claims_for(idp.issuer("a"), sub=secretish, exp=now - 999)),
        keys["evil"].sign(claims_for(idp.issuer("a"), sub=secretish)),
        keys["a1"].sign(claims_for(idp.issuer("a"), sub=secretish, aud=secretish)),
    ):
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(token)
        assert secretish not in str(caught.value)


# -- discovery, caching, rotation -----------------------------------------------------------------


def test_discovery_via_well_known(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(discover=True)
    for _ in range(3):
        assert verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a")))).subject == "user-1"
    assert idp.hits["/realms/a/.well-known/openid-configuration"] == 1
    assert idp.jwks_hits("a") == 1


def test_discovery_naming_another_issuer_is_refused(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"], discovery_issuer="https://impostor.example")
    verifier = new_verifier(discover=True)
    with pytest.raises(IdentityProviderUnavailable, match="names another issuer"):
        verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 0


def test_jwks_is_cached_for_its_lifetime(
    idp: Idp, keys: dict[str, Key], clock: Clock, new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(jwks_cache_seconds=600)
    for _ in range(20):
        verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 1
    clock.now += 599
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 1
    clock.now += 2  # the cache has expired: the next token fetches the JWKS anew
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 2


def test_key_rotation_refetches_once_within_the_cool_down(
    idp: Idp, keys: dict[str, Key], clock: Clock, new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(jwks_refetch_cooldown=30)
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 1

    clock.now += 31
    idp.publish("a", keys["a1"], keys["a2"])  # the issuer rotates in a2
    for _ in range(5):
        assert verifier.verify(keys["a2"].sign(claims_for(idp.issuer("a")))).subject == "user-1"
    assert idp.jwks_hits("a") == 2  # one refetch, then a2 is cached
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 2

    # an unknown kid within the cool-down: refused without asking the issuer
    ghost = keys["a2"].sign(claims_for(idp.issuer("a")), kid="ghost")
    for _ in range(10):
        refused(verifier, ghost, "unknown_key")
    assert idp.jwks_hits("a") == 2
    clock.now += 31  # after the cool-down, one more look
    refused(verifier, ghost, "unknown_key")
    refused(verifier, ghost, "unknown_key")
    assert idp.jwks_hits("a") == 3


def test_rotation_right_after_the_first_fetch_waits_for_the_cool_down(
    idp: Idp, keys: dict[str, Key], clock: Clock, new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(jwks_refetch_cooldown=10)
    verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    idp.publish("a", keys["a2"])
    refused(verifier, keys["a2"].sign(claims_for(idp.issuer("a"))), "unknown_key")
    clock.now += 10
    assert verifier.verify(keys["a2"].sign(claims_for(idp.issuer("a"))))
    assert idp.jwks_hits("a") == 2


def test_concurrent_unknown_kids_cause_one_fetch(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier()
    tokens = [keys["a1"].sign(claims_for(idp.issuer("a")), kid=f"k{i}") for i in range(16)]
    errors: list[str] = []

    def attempt(token: str) -> None:
        try:
            verifier.verify(token)
        except InvalidToken as exc:
            errors.append(exc.reason)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["unknown_key"] * 16
    assert idp.jwks_hits("a") == 1


def test_token_without_kid_needs_a_single_published_key(
    idp: Idp, keys: dict[str, Key], clock: Clock, new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier()
    no_kid = jwt.encode(claims_for(idp.issuer("a")), keys["a1"].private, algorithm="RS256")
    assert verifier.verify(no_kid).subject == "user-1"
    idp.publish("a", keys["a1"], keys["a2"])
    clock.now += 601
    refused(verifier, no_kid, "unknown_key")


# -- the identity provider fails ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_jwks_server_down_is_a_503_error(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    config = {"issuer": idp.issuer("a"), "jwks_uri": f"{down}/certs", "audience": AUDIENCE}
    verifier = new_verifier(issuers=[config], http_timeout=2)
    token = keys["a1"].sign(claims_for(idp.issuer("a")))
    with pytest.raises(IdentityProviderUnavailable) as caught:
        verifier.verify(token)
    assert isinstance(caught.value, StoreError)  # mapped to HTTP 503 at the edge
    assert not isinstance(caught.value, Unauthorized)
    assert "ConnectError" in caught.value.message
    assert idp.issuer("a") in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"oops", "HTTP 500"),
        (200, b"<html>", "not JSON"),
        (200, b"[1, 2]", "not an object"),
        (200, b'{"keys": "none"}', "no key list"),
    ],
)
def test_broken_jwks_is_a_503_error_and_not_retried_within_the_cool_down(
    idp: Idp,
    keys: dict[str, Key],
    clock: Clock,
    status: int,
    body: bytes,
    message: str,
    new_verifier: VerifierFactory,
) -> None:
    idp.routes["/realms/a/protocol/openid-connect/certs"] = (status, body)
    verifier = new_verifier(jwks_refetch_cooldown=30)
    token = keys["a1"].sign(claims_for(idp.issuer("a")))
    for _ in range(5):
        with pytest.raises(IdentityProviderUnavailable, match=message):
            verifier.verify(token)
    assert idp.jwks_hits("a") == 1
    idp.publish("a", keys["a1"])  # the issuer recovers
    clock.now += 30
    assert verifier.verify(token).subject == "user-1"
    assert idp.jwks_hits("a") == 2


def test_an_expired_cache_is_not_used_when_the_refresh_fails(
    idp: Idp, keys: dict[str, Key], clock: Clock, new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    verifier = new_verifier(jwks_cache_seconds=60)
    token = keys["a1"].sign(claims_for(idp.issuer("a")))
    verifier.verify(token)
    idp.routes["/realms/a/protocol/openid-connect/certs"] = (503, b"maintenance")
    clock.now += 61
    with pytest.raises(IdentityProviderUnavailable, match="HTTP 503"):
        verifier.verify(token)


def test_discovery_down_is_a_503_error(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    verifier = new_verifier(discover=True)  # nothing published: 404
    with pytest.raises(IdentityProviderUnavailable, match=r"discovery document.*HTTP 404"):
        verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))


# -- two issuers ----------------------------------------------------------------------------------


def test_two_issuers_each_with_its_own_keys(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("a", keys["a1"])
    idp.publish("b", keys["b1"])
    verifier = new_verifier(
        issuers=[
            {"issuer": idp.issuer("a"), "audience": AUDIENCE},
            {"issuer": idp.issuer("b"), "jwks_uri": idp.jwks_uri("b"), "audience": "other"},
        ],
    )
    a = verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
    b = verifier.verify(keys["b1"].sign(claims_for(idp.issuer("b"), sub="u2", aud="other")))
    assert (a.issuer, b.issuer, b.subject) == (idp.issuer("a"), idp.issuer("b"), "u2")
    # each issuer's audience applies to its own tokens only
    refused(verifier, keys["b1"].sign(claims_for(idp.issuer("b"))), "audience")
    # a token claiming issuer a but signed with issuer b's key is not accepted
    refused(verifier, keys["b1"].sign(claims_for(idp.issuer("a"))), "unknown_key")
    assert idp.jwks_hits("a") == 1
    assert idp.jwks_hits("b") == 1
    assert idp.hits["/realms/a/.well-known/openid-configuration"] == 1
    assert idp.hits["/realms/b/.well-known/openid-configuration"] == 0


def test_egi_check_in_token_maps_entitlements(
    idp: Idp, keys: dict[str, Key], new_verifier: VerifierFactory
) -> None:
    idp.publish("egi", keys["a1"])
    member = "urn:mace:egi.eu:group:vo.ai4eosc.eu:role=member#aai.egi.eu"
    rules = [*DEFAULT_RULES, RoleRule(claim="eduperson_entitlement", match=member, roles=["user"])]
    verifier = new_verifier(
        issuers=[
            {"issuer": idp.issuer("egi"), "jwks_uri": idp.jwks_uri("egi"), "audience": AUDIENCE}
        ],
        role_rules=rules,
    )
    token = keys["a1"].sign(
        claims_for(
            idp.issuer("egi"),
            eduperson_entitlement=[
                member,
                "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=vm_operator#aai.egi.eu",
            ],
        )
    )
    assert verifier.verify(token).roles == {"user", "group:vo.ai4eosc.eu", "group:vo.imagine-ai.eu"}


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"algorithms": ["HS256"]},
        {"algorithms": ["RS256", "none"]},
        {"algorithms": []},
        {"required_claims": ["sub"]},  # no expiry required
        {"issuers": []},
        {"issuers": [{"issuer": "https://a"}, {"issuer": "https://a"}]},
        {"issuers": [{"issuer": "a.example"}]},
        {"issuers": [{"issuer": "https://a", "jwks_uri": "file:///etc/passwd"}]},
        {"leeway": -1},
        {"jwks_cache_seconds": 0},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    config: dict[str, Any] = {"issuers": [{"issuer": "https://a"}], **overrides}
    with pytest.raises(ValidationError):
        OidcConfig.model_validate(config)


def test_defaults() -> None:
    config = OidcConfig.model_validate({"issuers": [{"issuer": "https://login.example/realms/x"}]})
    assert config.leeway == 60
    assert config.required_claims == ["exp", "iat", "sub"]
    assert config.algorithms == ["RS256", "ES256"]
    assert config.jwks_cache_seconds == 600
    assert config.issuers[0].jwks_uri is None
    assert config.issuers[0].audience is None
    assert config.role_rules == list(DEFAULT_RULES)


def test_a_given_http_client_is_used_and_left_open(idp: Idp, keys: dict[str, Key]) -> None:
    idp.publish("a", keys["a1"])
    with httpx.Client() as http:
        config = OidcConfig.model_validate(
            {"issuers": [{"issuer": idp.issuer("a"), "audience": AUDIENCE}]}
        )
        with TokenVerifier(config, http) as verifier:
            assert verifier.verify(keys["a1"].sign(claims_for(idp.issuer("a"))))
        assert not http.is_closed
