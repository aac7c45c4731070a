"""Browser sign-in: the OIDC authorization code flow with PKCE (S256) at the first issuer.

:meth:`SignIn.start` remembers a pending login (PKCE verifier, nonce, where to go next) in
the database (:mod:`modelport.auth.pending`) under a random ``state``, bound to the browser by
a random binding it hands back (the route sets it as a cookie), and gives the identity
provider's authorization URL. :meth:`SignIn.finish` takes the code, state and binding the
browser came back with, consumes the pending login (once; refused from another browser),
exchanges the code at the token endpoint, and checks the access token (and the ID token's
nonce, when there is one) with the :class:`TokenVerifier`. Any replica can finish a sign-in.
Blocking (HTTP, database): call from a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from modelport.auth.config import AuthSettings, Principal
from modelport.auth.oidc import TokenVerifier
from modelport.auth.pending import PendingLogin, PendingSignins
from modelport.errors import BadRequest, IdentityProviderUnavailable, Unauthorized

_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


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
        settings: AuthSettings,
        verifier: TokenVerifier,
        pending: PendingSignins,
        http: httpx.Client | None = None,
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
        self._pending = pending
        self._endpoints: tuple[str, str] | None = None

    def start(self, next_path: str, redirect_uri: str, client: str) -> tuple[str, str]:
        """Remember a new login for ``client`` (its address); the provider's URL to send the
        browser to, and the binding the browser must bring back (set it as a cookie)."""
        authorize, _ = self._discover()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        binding = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set
        login = PendingLogin(verifier, nonce, next_path, redirect_uri)
        self._pending.add(state, binding, client, login)
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
        return f"{authorize}{separator}{urlencode(query)}", binding

    def finish(
        self,
        code: str | None,
        state: str | None,
        error: str | None = None,
        binding: str | None = None,
    ) -> SignedIn:
        """Complete the login ``state`` names with ``code``, in the browser that began it
        (``binding``, its cookie); the principal and next path."""
        pending, same_browser = self._pending.take(state, binding) if state else (None, False)
        if pending is None:
            raise BadRequest("unknown or expired sign-in: start again at /auth/login")
        if not same_browser:
            raise BadRequest(
                "this sign-in was started in another browser (or its cookie is gone): "
                "start again at /auth/login"
            )
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
