"""Security headers on every answer of the platform (``serve`` and ``up``).

Every response: ``X-Content-Type-Options: nosniff`` and no framing (``X-Frame-Options: DENY``,
``Content-Security-Policy: frame-ancestors 'none'`` unless a stricter policy is set). Dashboard
pages get a strict policy of their own: scripts, styles, images and requests from the platform
only (inline styles allowed for htmx's indicator; images also from ``data:``/``blob:`` for upload
previews), forms posting to the platform only. Model answers proxied by the gateway carry their
own sandboxing policy (:mod:`modelport.gateway.exposure`), which is left as it is.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_DEFAULT: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, dashboard_prefix: str = "/dashboard") -> None:
        self.app = app
        self.dashboard_prefix = dashboard_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dashboard = str(scope.get("path", "")).startswith(self.dashboard_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers += [(k, v) for k, v in _DEFAULT if k not in present]
                if b"content-security-policy" not in present:
                    policy = DASHBOARD_POLICY if dashboard else "frame-ancestors 'none'"
                    headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
