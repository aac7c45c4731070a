"""Authentication at the HTTP edge: who is calling, on every route, and role/scope checks.

With ``auth = off`` nothing is installed and every caller is the local admin (no middleware, no
cost). With ``auth = oidc``, :func:`install_auth` adds :class:`AuthenticationMiddleware`, which
authenticates every HTTP request except those to the open paths below, before any route runs
(FastAPI routes, raw Starlette routes such as predict, mounts alike), and stores the
:class:`Principal` in ``request.state.principal``. Credentials: ``Authorization: Bearer`` (an
OIDC access token or a modelport API token), else the browser session cookie
``modelport_session``; unsafe methods authenticated by the cookie alone must come with an
``Origin`` (or ``Referer``) of this server, or get 403 (CSRF).

Open paths (under the base path): ``/``, ``/v2/``, ``/health/live``, ``/health/ready``, the
Open Inference Protocol's ``/v2/health/live`` and ``/v2/health/ready``,
``/openapi.json``, ``/swagger.json``, ``/api``, ``/docs``, ``/ui``, ``/static/...`` and the
sign-in routes ``/auth/login``, ``/auth/callback``, ``/auth/logout``. Rules applied here, as
the routes are not FastAPI's: ``POST /v2/models/{name}/predict/`` needs role ``user`` and scope
``predict``; ``GET /v2/models/`` and ``/v2/models/{name}/`` need role ``user`` and scope
``read`` or ``predict``; ``GET /metrics`` needs role ``admin`` and scope ``read`` (an admin's
read-only API token for Prometheus). Every other route is authenticated here and authorized by
its router: ``principal: CurrentPrincipal`` and ``modelport.auth.policy``, or
``dependencies=[require(role=..., scope=...)]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import Depends, FastAPI, Request
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.api.errors import error_response
from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.errors import Forbidden, ModelportError
from modelport.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from modelport.auth.authenticator import Authenticator

SESSION_COOKIE = "modelport_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = (
    "/",
    "/v2",
    "/health/live",
    "/health/ready",
    "/v2/health/live",  # the Open Inference Protocol's probes
    "/v2/health/ready",
    "/openapi.json",
    "/swagger.json",
    "/api",
    "/docs",
    "/ui",
    "/auth/login",
    "/auth/callback",
    "/auth/logout",
)
# The dashboard's pages authenticate themselves (signed out: a page with a Sign-in button, not
# a JSON 401); everything they show comes from the same services and checks as the API.
OPEN_PREFIXES = ("/static/", "/dashboard")


@dataclass(frozen=True)
class RouteRule:
    """Requests of ``methods`` to paths matching ``pattern`` need ``role`` and one of ``scopes``."""

    methods: frozenset[str]
    pattern: str
    role: str
    scopes: tuple[str, ...]


ROUTE_RULES = (
    RouteRule(frozenset({"POST"}), r"/v2/models/[^/]+/predict/?", "user", ("predict",)),
    RouteRule(frozenset({"GET", "HEAD"}), r"/v2/models(/[^/]+)?/?", "user", ("read", "predict")),
    RouteRule(frozenset({"GET", "HEAD"}), r"/metrics/?", "admin", ("read",)),
)


def bearer_token(request: HTTPConnection) -> str | None:
    """The request's (or WebSocket's) bearer token, from the Authorization header (else
    None)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def server_origin(request: HTTPConnection, settings: Settings) -> str:
    """This server's origin as browsers see it: ``public_url``'s, else the request's (a
    WebSocket's ``ws``/``wss`` is the page's ``http``/``https``)."""
    if settings.public_url:
        url = urlsplit(settings.public_url)
        return f"{url.scheme}://{url.netloc}".lower()
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{request.headers.get('host', '')}".lower()


def check_same_origin(request: HTTPConnection, settings: Settings) -> None:
    """Forbidden unless the request's (or WebSocket's) Origin (else Referer) is this server
    (CSRF defence)."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    url = urlsplit(source)
    if not url.scheme or f"{url.scheme}://{url.netloc}".lower() != server_origin(request, settings):
        raise Forbidden(
            "cross-site request refused: a request authenticated by the session cookie must "
            "come from this server's pages (Origin), or send 'Authorization: Bearer <token>'"
        )


def request_credentials(request: Request, settings: Settings) -> str | None:
    """The bearer token, else the session cookie (same-origin checked for unsafe methods)."""
    token = bearer_token(request)
    if token is not None:
        return token
    cookie = request.cookies.get(SESSION_COOKIE) or None
    if cookie is not None and request.method in UNSAFE_METHODS:
        check_same_origin(request, settings)
    return cookie


async def authenticate_request(
    request: Request, authenticator: Authenticator, settings: Settings
) -> Principal:
    """Who sent ``request``; Unauthorized (401) or Forbidden (403, CSRF) otherwise."""
    credentials = request_credentials(request, settings)
    return await anyio.to_thread.run_sync(authenticator.authenticate, credentials)


async def current_principal(request: Request) -> Principal:
    """Who is calling (cached on the request); Unauthorized when auth is on and nobody is."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    authenticator = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        principal = LOCAL_PRINCIPAL
    else:
        principal = await authenticate_request(request, authenticator, request.app.state.settings)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def check(principal: Principal, role: str | None = None, scope: str | None = None) -> None:
    """Raise Forbidden unless ``principal`` holds ``role`` and its credential allows ``scope``."""
    if role is not None and not principal.has_role(role):
        raise Forbidden(f"this needs the '{role}' role, which your account does not have")
    if scope is not None and not principal.has_scope(scope):
        raise Forbidden(f"this API token lacks the '{scope}' scope")


def require(role: str | None = None, scope: str | None = None) -> Any:
    """A dependency admitting callers with ``role`` and ``scope`` (see :func:`check`)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        check(principal, role, scope)
        return principal

    return Depends(dependency)


class AuthenticationMiddleware:
    """Authenticate every HTTP request but the open paths' (pure ASGI; only when auth is on)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, settings: Settings) -> None:
        self.app = app
        self.authenticator = authenticator
        self.settings = settings
        base = settings.base_path
        self.open_paths = frozenset(
            {base + p for p in OPEN_PATHS}
            | {base + p.rstrip("/") + "/" for p in OPEN_PATHS}
            | {base or "/"}
        )
        self.open_prefixes = tuple(base + p for p in OPEN_PREFIXES)
        self.rules = [(rule, re.compile(re.escape(base) + rule.pattern)) for rule in ROUTE_RULES]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path in self.open_paths or path.startswith(self.open_prefixes):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await authenticate_request(request, self.authenticator, self.settings)
            self._authorize(principal, scope["method"], path)
        except ModelportError as exc:
            await error_response(exc, self.settings.debug)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _authorize(self, principal: Principal, method: str, path: str) -> None:
        for rule, pattern in self.rules:
            if method in rule.methods and pattern.fullmatch(path):
                check(principal, rule.role)
                if not any(principal.has_scope(s) for s in rule.scopes):
                    raise Forbidden(f"this API token lacks the '{' or '.join(rule.scopes)}' scope")
                return


def install_auth(
    app: FastAPI, settings: Settings, engine: Engine | None = None
) -> Callable[[], None] | None:
    """Require authentication on ``app`` when ``settings.auth`` is on; a closer, or None.

    API tokens and browser sessions live in ``engine`` (default: a new engine on
    ``settings.store_url()``). Raises ValueError when auth is on without trusted issuers.
    """
    if settings.auth == "off":  # before the imports: serving without auth never loads OIDC
        return None
    from modelport.api.auth_routes import auth_router
    from modelport.auth.setup import build_auth

    services = build_auth(settings, engine)
    assert services is not None  # auth is on
    app.state.authenticator = services.authenticator
    app.include_router(auth_router(services.tokens, services.signin, settings))
    app.add_middleware(
        AuthenticationMiddleware, authenticator=services.authenticator, settings=settings
    )
    return services.close
