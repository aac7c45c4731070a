"""SignIn (code flow + PKCE) against the fixture issuer: expiry, nonce, provider failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from modelport.auth.oidc import TokenVerifier
from modelport.auth.signin import LOGIN_SECONDS, SignIn, code_challenge
from modelport.errors import BadRequest, IdentityProviderUnavailable, InvalidToken, Unauthorized
from modelport.settings import Settings
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, claims_for, idp, keys

__all__ = ["idp", "keys"]

CALLBACK = "http://test/auth/callback"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flow(idp: Idp, keys: dict[str, Key], clock: Clock) -> Iterator[tuple[SignIn, TokenVerifier]]:
    idp.publish("a", keys["a1"])
    idp.sign_in_as("a", groups=["/users"])
    settings = Settings(**auth_settings(idp, "sqlite://"))
    assert settings.oidc is not None
    verifier = TokenVerifier(settings.oidc)
    signin = SignIn(settings, verifier, clock=clock)
    yield signin, verifier
    signin.close()
    verifier.close()


def approve(url: str) -> dict[str, str]:
    """What the provider redirects the browser back with."""
    location = httpx.get(url).headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_sign_in(flow: tuple[SignIn, TokenVerifier]) -> None:
    signin, _ = flow
    back = approve(signin.start("/next", CALLBACK))
    done = signin.finish(back["code"], back["state"])
    assert done.principal.subject == "user-1"
    assert "user" in done.principal.roles
    assert done.next_path == "/next"


def test_a_login_expires(flow: tuple[SignIn, TokenVerifier], clock: Clock) -> None:
    signin, _ = flow
    back = approve(signin.start("/", CALLBACK))
    clock.now += LOGIN_SECONDS + 1
    with pytest.raises(BadRequest, match="unknown or expired"):
        signin.finish(back["code"], back["state"])


def test_the_verifier_must_match_the_challenge(
    flow: tuple[SignIn, TokenVerifier], idp: Idp
) -> None:
    signin, _ = flow
    url = signin.start("/", CALLBACK)
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    back = approve(url.replace(challenge, code_challenge("another-verifier-" + "x" * 40)))
    with pytest.raises(Unauthorized, match="invalid_grant"):
        signin.finish(back["code"], back["state"])


def test_id_token_nonce(flow: tuple[SignIn, TokenVerifier], idp: Idp, keys: dict[str, Key]) -> None:
    _, verifier = flow
    id_claims: dict[str, Any] = claims_for(idp.issuer("a"), aud="modelport-dashboard", nonce="n1")
    token = keys["a1"].sign(id_claims)
    assert verifier.verify_id_token(token, "modelport-dashboard", "n1")["sub"] == "user-1"
    with pytest.raises(InvalidToken, match="nonce"):
        verifier.verify_id_token(token, "modelport-dashboard", "n2")
    with pytest.raises(InvalidToken, match="audience"):
        verifier.verify_id_token(token, "another-client", "n1")
    no_nonce = keys["a1"].sign(claims_for(idp.issuer("a"), aud="modelport-dashboard"))
    with pytest.raises(InvalidToken, match="nonce"):
        verifier.verify_id_token(no_nonce, "modelport-dashboard", "n1")


def test_a_provider_without_discovery_is_unavailable(
    flow: tuple[SignIn, TokenVerifier], idp: Idp
) -> None:
    signin, _ = flow
    idp.routes.clear()
    with pytest.raises(IdentityProviderUnavailable, match="discovery document"):
        signin.start("/", CALLBACK)


def test_sign_in_needs_a_client_id(idp: Idp) -> None:
    settings = Settings(**auth_settings(idp, "sqlite://", oidc_client_id=None))
    assert settings.oidc is not None
    with TokenVerifier(settings.oidc) as verifier, pytest.raises(ValueError, match="CLIENT_ID"):
        SignIn(settings, verifier)
