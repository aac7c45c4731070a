"""Browser sign-in: the OIDC authorization code flow with PKCE (S256) at the first issuer.

:meth:`SignIn.start` remembers a pending login (PKCE verifier, nonce, where to go next) in
memory under a random ``state`` for ``LOGIN_SECONDS``, and gives the identity provider's
authorization URL. :meth:`SignIn.finish` takes the code and state the provider redirected back
with, consumes the pending login (once), exchanges the code at the token endpoint, and checks
the access token (and the ID token's nonce, when there is one) with the :class:`TokenVerifier`.

Pending logins stay in this process: a server with several workers needs sticky sessions for
the sign-in round trip (or one worker). Blocking (HTTP): call from a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from modelport.auth.config import Principal
from modelport.auth.oidc import TokenVerifier
from modelport.errors import BadRequest, IdentityProviderUnavailable, Unauthorized
from modelport.settings import Settings

LOGIN_SECONDS = 600.0
MAX_PENDING = 10_000  # beyond this, the oldest pending logins are forgotten
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in between the redirect to the provider and its callback."""

    verifier: str
    nonce: str
    next_path: str
    redirect_uri: str
    expires: float


@dataclass(frozen=True)
class SignedIn:
    """A finished sign-in: who, and where the browser goes now."""

    principal: Principal
    next_path: str


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class SignIn:
    """The code flow against the first configured issuer, for ``settings.oidc_client_id``."""

    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier,
        http: httpx.Client | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.oidc is None or not settings.oidc_client_id:
            raise ValueError("browser sign-in needs MODELPORT_OIDC and MODELPORT_OIDC_CLIENT_ID")
        self.issuer = settings.oidc.issuers[0].issuer
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self._scopes = settings.oidc_scopes
        self._timeout = settings.oidc.http_timeout
        self._verifier = verifier
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=self._timeout)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, PendingLogin] = {}
        self._endpoints: tuple[str, str] | None = None

    def start(self, next_path: str, redirect_uri: str) -> str:
        """Remember a new login; the provider's URL to send the browser to."""
        authorize, _ = self._discover()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set
        now = self._clock()
        with self._lock:
            self._expire(now)
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[state] = PendingLogin(
                verifier, nonce, next_path, redirect_uri, now + LOGIN_SECONDS
            )
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self._scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in authorize else "?"
        return f"{authorize}{separator}{urlencode(query)}"

    def finish(self, code: str | None, state: str | None, error: str | None = None) -> SignedIn:
        """Complete the login ``state`` names with ``code``; the principal and next path."""
        pending = self._take(state)
        if error is not None:
            shown = error if _ERROR_CODE.fullmatch(error) else "error"
            raise Unauthorized(f"sign-in was refused by the identity provider ({shown})")
        if not code:
            raise BadRequest("the sign-in callback has no code")
        tokens = self._exchange(code, pending)
        access = tokens.get("access_token")
        if not isinstance(access, str):
            raise IdentityProviderUnavailable("the token endpoint returned no access token")
        principal = self._verifier.verify(access)
        id_token = tokens.get("id_token")
        if isinstance(id_token, str):
            claims = self._verifier.verify_id_token(id_token, self.client_id, pending.nonce)
            if claims.get("sub") != principal.subject:
                raise Unauthorized("the ID token and the access token name different users")
        return SignedIn(principal, pending.next_path)

    def _take(self, state: str | None) -> PendingLogin:
        with self._lock:
            self._expire(self._clock())
            pending = self._pending.pop(state, None) if state else None
        if pending is None:
            raise BadRequest("unknown or expired sign-in: start again at /auth/login")
        return pending

    def _expire(self, now: float) -> None:
        for state in [s for s, p in self._pending.items() if p.expires <= now]:
            del self._pending[state]

    def _exchange(self, code: str, pending: PendingLogin) -> dict[str, Any]:
        _, token_endpoint = self._discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        if self._secret:
            form["client_secret"] = self._secret  # client_secret_post
        try:
            response = self._http.post(token_endpoint, data=form, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable(
                f"token endpoint of {self.issuer} unreachable: {type(exc).__name__}"
            ) from exc
        body = _json_object(response)
        if response.status_code in (400, 401):
            error = body.get("error") if isinstance(body, dict) else None
            shown = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else "error"
            raise Unauthorized(f"the identity provider refused the sign-in code ({shown})")
        if response.status_code != 200 or body is None:
            raise IdentityProviderUnavailable(
                f"token endpoint of {self.issuer} answered HTTP {response.status_code}"
            )
        return body

    def _discover(self) -> tuple[str, str]:
        """The authorization and token endpoints, from the discovery document (cached)."""
        if self._endpoints is not None:
            return self._endpoints
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = self._http.get(url, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable(
                f"discovery document of {self.issuer} unreachable: {type(exc).__name__}"
            ) from exc
        document = _json_object(response) if response.status_code == 200 else None
        if document is None or document.get("issuer") != self.issuer:
            raise IdentityProviderUnavailable(f"no valid discovery document at {url}")
        endpoints = document.get("authorization_endpoint"), document.get("token_endpoint")
        if not all(isinstance(e, str) and e.startswith(("https://", "http://")) for e in endpoints):
            raise IdentityProviderUnavailable(
                f"discovery document of {self.issuer} lacks the code flow's endpoints"
            )
        self._endpoints = (str(endpoints[0]), str(endpoints[1]))
        return self._endpoints

    def close(self) -> None:
        """Close the HTTP client, if this object created it."""
        if self._owns_http:
            self._http.close()


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
