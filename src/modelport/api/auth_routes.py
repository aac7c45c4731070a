"""``/auth/...``: who am I, API tokens, and the dashboard's browser sign-in.

==========================  ====================================================================
``GET /auth/me``            the caller: subject, name, roles, groups, scopes
``POST /auth/tokens``       a new API token (201; its secret shown once) with scopes the caller
                            may grant: its roles' scopes that its own credential has
``GET /auth/tokens``        the caller's tokens (no secrets)
``DELETE /auth/tokens/{id}``  revoke one (the caller's own; admins: anyone's)
``GET /auth/login``         302 to the identity provider (code flow + PKCE); ``?next=/path``
``GET /auth/callback``      the provider's redirect: a browser session (an API token in the
                            HttpOnly cookie ``modelport_session``), then 302 to ``next``
``POST /auth/logout``       revoke the session and clear the cookie (204; ``?next=/path``: 303)
==========================  ====================================================================
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from modelport.api.auth import SESSION_COOKIE, CurrentPrincipal, check_same_origin
from modelport.auth.signin import SignIn
from modelport.auth.token_service import MAX_TOKEN_DAYS, ApiToken, IssuedToken, TokenService
from modelport.errors import BadRequest, NotFound
from modelport.settings import Settings

SIGNIN_COOKIE = "modelport_signin"
Scope = Literal["predict", "train", "publish", "read", "admin"]


class Me(BaseModel):
    """The caller as the server sees them."""

    subject: str
    issuer: str
    name: str | None
    email: str | None
    roles: list[str]
    groups: list[str]
    scopes: list[str] | None = Field(description="an API token's scopes; null: not limited")
    grantable_scopes: list[str] = Field(description="scopes a new API token of theirs may have")
    token_id: str | None


class TokenRequest(BaseModel):
    """What a new API token may do, and for how long."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_in_days: int | None = Field(
        None, ge=1, le=MAX_TOKEN_DAYS, description="default: the server's api_token_days"
    )


def safe_next(value: str | None, base: str) -> str:
    """``value`` if it is a path on this server, the dashboard root if absent; else BadRequest."""
    if not value:
        return f"{base}/"
    url = urlsplit(value)
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or url.scheme
        or url.netloc
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise BadRequest("'next' must be a path on this server, like /dashboard")
    return value


def callback_url(request: Request, settings: Settings) -> str:
    """The redirect URI registered with the provider: ``public_url`` (else this request's)."""
    root = (settings.public_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    if not root.endswith(settings.base_path):
        root += settings.base_path
    return f"{root}/auth/callback"


def _secure(request: Request, settings: Settings) -> bool:
    return (settings.public_url or str(request.url)).startswith("https://")


def auth_router(tokens: TokenService, signin: SignIn | None, settings: Settings) -> APIRouter:
    """The ``/auth`` routes over ``tokens``; browser sign-in only with ``signin``."""
    router = APIRouter(prefix=f"{settings.base_path}/auth", tags=["auth"])

    async def me(principal: CurrentPrincipal) -> Me:
        return Me(
            subject=principal.subject,
            issuer=principal.issuer,
            name=principal.name,
            email=principal.email,
            roles=sorted(principal.roles),
            groups=list(principal.groups),
            scopes=sorted(principal.scopes) if principal.scopes is not None else None,
            grantable_scopes=tokens.grantable(principal),
            token_id=principal.token_id,
        )

    def create_token(body: TokenRequest, principal: CurrentPrincipal) -> IssuedToken:
        days = body.expires_in_days or settings.api_token_days
        return tokens.issue(principal, body.name, body.scopes, days)

    def list_tokens(principal: CurrentPrincipal) -> list[ApiToken]:
        return tokens.owned(principal)

    def revoke_token(token_id: str, principal: CurrentPrincipal) -> ApiToken:
        return tokens.revoke(principal, token_id)

    def route(path: str, endpoint: Any, method: str, **kw: Any) -> None:
        router.add_api_route(path, endpoint, methods=[method], **kw)
        router.add_api_route(f"{path}/", endpoint, methods=[method], include_in_schema=False, **kw)

    route("/me", me, "GET", summary="Who am I")
    route("/tokens", create_token, "POST", status_code=201, summary="Create an API token")
    route("/tokens", list_tokens, "GET", summary="My API tokens (no secrets)")
    route("/tokens/{token_id}", revoke_token, "DELETE", summary="Revoke an API token")
    login, callback, logout = _browser_signin(tokens, signin, settings)
    route("/login", login, "GET", summary="Browser sign-in (redirects to the provider)")
    route("/callback", callback, "GET", summary="Browser sign-in: the provider's redirect")
    route("/logout", logout, "POST", status_code=204, summary="End the browser session")
    return router


def _browser_signin(
    tokens: TokenService, signin: SignIn | None, settings: Settings
) -> tuple[Any, Any, Any]:
    """The endpoints of browser sign-in: login, the provider's callback, logout."""
    cookie_path, signin_path = settings.base_path or "/", f"{settings.base_path}/auth"

    def configured() -> SignIn:
        if signin is None:
            raise NotFound("browser sign-in is not configured (MODELPORT_OIDC_CLIENT_ID)")
        return signin

    async def login(
        request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
    ) -> RedirectResponse:
        flow = configured()
        target = safe_next(next_path, settings.base_path)
        client = request.client.host if request.client else "unknown"
        url, binding = await anyio.to_thread.run_sync(
            flow.start, target, callback_url(request, settings), client
        )
        response = RedirectResponse(url, status_code=302)
        # the browser that began this sign-in is the only one that can finish it (Lax: the
        # cookie comes back on the provider's top-level redirect to the callback)
        _cookie(response, request, settings, SIGNIN_COOKIE, binding, max_age=600, path=signin_path)
        return response

    async def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> RedirectResponse:
        flow = configured()
        binding = request.cookies.get(SIGNIN_COOKIE)
        signed_in = await anyio.to_thread.run_sync(flow.finish, code, state, error, binding)
        issued = await anyio.to_thread.run_sync(
            tokens.start_session, signed_in.principal, settings.session_hours
        )
        response = RedirectResponse(signed_in.next_path, status_code=302)
        hours = int(settings.session_hours * 3600)
        _cookie(
            response,
            request,
            settings,
            SESSION_COOKIE,
            issued.token,
            max_age=hours,
            path=cookie_path,
        )
        response.delete_cookie(SIGNIN_COOKIE, path=signin_path)
        return response

    async def logout(
        request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
    ) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            check_same_origin(request, settings)
            await anyio.to_thread.run_sync(tokens.end_session, session)
        # a plain HTML form (no JavaScript) gets a page to land on; scripts and APIs get 204
        response: Response = Response(status_code=204)
        if next_path is not None:
            response = RedirectResponse(safe_next(next_path, settings.base_path), status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path=cookie_path,
            secure=_secure(request, settings),
            httponly=True,
            samesite="lax",
        )
        return response

    return login, callback, logout


def _cookie(
    response: Response,
    request: Request,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str,
) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure behind HTTPS)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=_secure(request, settings),
        httponly=True,
        samesite="lax",
    )
