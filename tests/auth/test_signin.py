"""SignIn (code flow + PKCE) against the fixture issuer: expiry, nonce, provider failures, the
browser binding, pending sign-ins in the database (per-client cap, any replica finishes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from modelport.auth.oidc import TokenVerifier
from modelport.auth.pending import PendingSignins
from modelport.auth.signin import SignIn, code_challenge
from modelport.db import connect
from modelport.errors import BadRequest, IdentityProviderUnavailable, InvalidToken, Unauthorized
from modelport.settings import Settings
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, claims_for, idp, keys

__all__ = ["idp", "keys"]

CALLBACK = "http://test/auth/callback"


@pytest.fixture
def pending(tmp_path: Path) -> PendingSignins:
    """Pending sign-ins in a real (migrated) SQLite database."""
    return PendingSignins(connect(f"sqlite:///{tmp_path / 'signins.db'}"))


@pytest.fixture
def flow(
    idp: Idp, keys: dict[str, Key], pending: PendingSignins
) -> Iterator[tuple[SignIn, TokenVerifier]]:
    idp.publish("a", keys["a1"])
    idp.sign_in_as("a", groups=["/users"])
    settings = Settings(**auth_settings(idp, "sqlite://"))
    assert settings.oidc is not None
    verifier = TokenVerifier(settings.oidc)
    signin = SignIn(settings, verifier, pending)
    yield signin, verifier
    signin.close()
    verifier.close()


def approve(url: str) -> dict[str, str]:
    """What the provider redirects the browser back with."""
    location = httpx.get(url).headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_sign_in(flow: tuple[SignIn, TokenVerifier]) -> None:
    signin, _ = flow
    url, binding = signin.start("/next", CALLBACK, "10.0.0.1")
    back = approve(url)
    done = signin.finish(back["code"], back["state"], binding=binding)
    assert done.principal.subject == "user-1"
    assert "user" in done.principal.roles
    assert done.next_path == "/next"
    with pytest.raises(BadRequest, match="unknown or expired"):  # once only
        signin.finish(back["code"], back["state"], binding=binding)


def test_a_sign_in_finishes_only_in_the_browser_that_began_it(
    flow: tuple[SignIn, TokenVerifier],
) -> None:
    # login CSRF: an attacker begins a sign-in and sends the victim the callback URL
    signin, _ = flow
    url, binding = signin.start("/", CALLBACK, "10.0.0.66")
    back = approve(url)
    with pytest.raises(BadRequest, match="started in another browser"):
        signin.finish(back["code"], back["state"], binding="another-browsers-binding")
    with pytest.raises(BadRequest, match="unknown or expired"):  # consumed by the attempt
        signin.finish(back["code"], back["state"], binding=binding)
    url, _ = signin.start("/", CALLBACK, "10.0.0.66")
    back = approve(url)
    with pytest.raises(BadRequest, match="started in another browser"):  # no cookie at all
        signin.finish(back["code"], back["state"], binding=None)


def test_a_login_expires(idp: Idp, keys: dict[str, Key], tmp_path: Path) -> None:
    idp.publish("a", keys["a1"])
    idp.sign_in_as("a")
    settings = Settings(**auth_settings(idp, "sqlite://"))
    assert settings.oidc is not None
    expired = PendingSignins(connect(f"sqlite:///{tmp_path / 'x.db'}"), timedelta(seconds=-1))
    with TokenVerifier(settings.oidc) as verifier:
        signin = SignIn(settings, verifier, expired)
        url, binding = signin.start("/", CALLBACK, "10.0.0.1")
        back = approve(url)
        with pytest.raises(BadRequest, match="unknown or expired"):
            signin.finish(back["code"], back["state"], binding=binding)
        signin.close()


def test_a_flood_evicts_only_the_flooders_own_sign_ins(
    flow: tuple[SignIn, TokenVerifier], idp: Idp, keys: dict[str, Key], pending: PendingSignins
) -> None:
    signin, verifier = flow
    url, binding = signin.start("/mine", CALLBACK, "10.0.0.1")
    for _ in range(3 * pending.per_client):
        signin.start("/", CALLBACK, "10.6.6.6")
    # another replica (its own SignIn, the same database) finishes the first sign-in
    settings = Settings(**auth_settings(idp, "sqlite://"))
    replica = SignIn(settings, verifier, PendingSignins(pending.engine))
    back = approve(url)
    assert replica.finish(back["code"], back["state"], binding=binding).next_path == "/mine"
    replica.close()
    with pending.engine.connect() as conn:
        from sqlalchemy import func, select

        from modelport.db.tables import pending_signins

        held = conn.execute(select(func.count()).select_from(pending_signins)).scalar_one()
    assert held == pending.per_client  # the flooder's newest only


def test_the_verifier_must_match_the_challenge(
    flow: tuple[SignIn, TokenVerifier], idp: Idp
) -> None:
    signin, _ = flow
    url, binding = signin.start("/", CALLBACK, "10.0.0.1")
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    back = approve(url.replace(challenge, code_challenge("another-verifier-" + "x" * 40)))
    with pytest.raises(Unauthorized, match="invalid_grant"):
        signin.finish(back["code"], back["state"], binding=binding)


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
        signin.start("/", CALLBACK, "10.0.0.1")


def test_sign_in_needs_a_client_id(idp: Idp, pending: PendingSignins) -> None:
    settings = Settings(**auth_settings(idp, "sqlite://", oidc_client_id=None))
    assert settings.oidc is not None
    with TokenVerifier(settings.oidc) as verifier, pytest.raises(ValueError, match="CLIENT_ID"):
        SignIn(settings, verifier, pending)
