"""``GET /`` for people: a browser is sent to the dashboard, API clients keep DEEPaaS's JSON.

DEEPaaS answers ``GET /`` with its version document, and clients rely on it; a browser asking
for HTML (``Accept: text/html``) gets a 303 to the dashboard instead (or to Swagger UI where no
dashboard is served). ``*/*`` (curl's default), ``application/json`` or no Accept header keep
the JSON. Both answers say ``Vary: Accept``.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.routing import NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.contract.base import negotiate
from modelport.errors import InvalidInput

HTML: Final = "text/html"
#: The names of the routes a browser may land on, in order of preference.
DASHBOARD_ROUTE: Final = "dashboard"
SWAGGER_UI_ROUTE: Final = "swagger-ui"
_CHOICES: Final = ("application/json", HTML)


def wants_html(accept: str | None) -> bool:
    """Whether an Accept header prefers HTML to JSON (a browser's does; curl's ``*/*`` not)."""
    try:
        return negotiate(accept, _CHOICES) == HTML
    except InvalidInput:  # nothing we have is acceptable: the JSON route answers as before
        return False


class BrowserLanding:
    """ASGI middleware redirecting a browser's ``GET {base}/`` to the dashboard (or the docs)."""

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        self.app = app
        self.base = base_path
        self.roots = {base_path or "/", f"{base_path}/"}
        self.target: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.roots:
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and wants_html(Headers(scope=scope).get("accept")):
            target = self._target(scope)
            if target is not None:
                response = RedirectResponse(target, status_code=303, headers={"Vary": "Accept"})
                await response(scope, receive, send)
                return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"vary", b"Accept")]
            await send(message)

        await self.app(scope, receive, send_varying)

    def _target(self, scope: Scope) -> str | None:
        """The dashboard when the app serves one, else Swagger UI, else None (found once)."""
        if self.target is None:
            app = scope.get("app")
            for name in (DASHBOARD_ROUTE, SWAGGER_UI_ROUTE):
                try:
                    self.target = str(app.url_path_for(name)) if app is not None else None
                except NoMatchFound:
                    continue
                break
        return self.target
