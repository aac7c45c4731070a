"""No-auth mode's guard: a web page on another site cannot drive the local platform.

With ``auth = off`` every caller is the local admin, so anything a browser can be made to send
is a risk. Two rules, checked before anything else runs:

- **Host** (DNS rebinding: ``evil.example`` re-pointed at 127.0.0.1 makes the browser treat the
  local server as that site): the ``Host`` header must name ``localhost``, ``127.0.0.1``,
  ``[::1]``, the bound ``--host``, ``public_url``'s host, the address the request arrived at
  (an IP: rebinding always uses a name) or one of ``allowed_hosts`` (``*``: any); else **400**.
- **Cross-site writes** (CSRF): a ``POST``/``PUT``/``PATCH``/``DELETE`` whose ``Origin`` is not
  this server's (the ``Host`` it was sent to, or ``public_url``), or that says
  ``Sec-Fetch-Site: cross-site``, gets **403**. Browsers send both on every cross-site write;
  ``curl`` and the Python client send neither, and the dashboard's own requests match.

Refusals are the usual JSON errors (``api/errors.py``), naming the reason.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.api.errors import error_response
from modelport.errors import BadRequest, Forbidden, ModelportError
from modelport.settings import Settings

LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


def install_local_guard(app: FastAPI, settings: Settings) -> None:
    """Guard ``app`` against other sites' pages when it runs without authentication."""
    if settings.auth == "off":
        app.add_middleware(LocalGuard, settings=settings)


def host_name(authority: str) -> str:
    """The host of a ``Host`` header or URL authority, lower case, without port or brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):  # [::1]:5000
        return authority[1 : authority.find("]")] if "]" in authority else authority
    if authority.count(":") > 1:  # a bare IPv6 address
        return authority
    return authority.partition(":")[0].rstrip(".")


class LocalGuard:
    """ASGI middleware enforcing the Host and cross-site rules above (auth = off only)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.debug = settings.debug
        self.any_host = "*" in settings.allowed_hosts
        names = {*LOOPBACK_NAMES, host_name(settings.host)}
        names.update(host_name(h) for h in settings.allowed_hosts)
        self.public_origin: str | None = None
        if settings.public_url:
            url = urlsplit(settings.public_url)
            self.public_origin = url.netloc.lower()
            names.add(host_name(url.netloc))
        self.names = frozenset(names - _ANY_ADDRESS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a foreign Host or a cross-site write; pass anything else on."""
        if scope["type"] in ("http", "websocket"):
            try:
                self.check(scope)
            except ModelportError as exc:
                if scope["type"] == "websocket":  # closed before it is accepted: a 403
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await error_response(exc, self.debug)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> None:
        """BadRequest for a Host this server does not answer to, Forbidden for a cross-site
        write (websocket: any cross-site connection)."""
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        if host and not self.any_host and not self._known_host(host_name(host), scope):
            raise BadRequest(
                f"this server does not answer to the host '{host_name(host)}' (a DNS rebinding "
                "guard of no-auth mode): use localhost or 127.0.0.1, or add the name to "
                "allowed_hosts (MODELPORT_ALLOWED_HOSTS)"
            )
        if scope["type"] == "http" and scope.get("method") not in UNSAFE_METHODS:
            return
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if site == "cross-site":
            raise Forbidden(
                "cross-site request refused: another site's page may not drive this server "
                "(no-auth mode; Sec-Fetch-Site: cross-site)"
            )
        origin = headers.get(b"origin")
        if origin is not None and not self._own_origin(origin.decode("latin-1"), host):
            raise Forbidden(
                f"cross-site request refused: Origin '{origin.decode('latin-1')}' is not this "
                "server's, and another site's page may not drive it (no-auth mode)"
            )

    def _known_host(self, name: str, scope: Scope) -> bool:
        if name in self.names:
            return True
        server = scope.get("server")  # the address this request arrived at
        return server is not None and name == host_name(str(server[0]))

    def _own_origin(self, origin: str, host: str) -> bool:
        """Whether ``Origin`` is the authority the request was sent to (any scheme: behind a
        TLS proxy the browser's https is the server's http), or ``public_url``'s."""
        url = urlsplit(origin.strip())
        if not url.scheme or not url.netloc:  # "null": a sandboxed page, a file, a redirect
            return False
        authority = url.netloc.lower()
        return authority == host.strip().lower() or authority == self.public_origin
