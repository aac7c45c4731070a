"""The Open Inference Protocol's model routes on the platform (``modelport up``): each call is
proxied to the catalog module's worker, whose app answers with ``api/oip.py``'s routes.

Apart from ``api/oip.py`` so that a process serving its own models (``serve``, a worker) never
loads the catalog for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.api.oip import Endpoint, add_routes
from modelport.catalog.domain import LATEST


class ProxiedInference:
    """The OIP endpoints for catalog modules (``modelport up``): each call proxied to the
    module's worker, whose app answers with the routes above. ``proxy(request, name, ref,
    path)`` authorizes the caller as predict does and forwards the request to ``path``."""

    def __init__(self, proxy: Callable[[Request, str, str, str], Awaitable[Response]], base: str):
        self.proxy = proxy
        self.base = base

    async def model_ready(self, request: Request, name: str) -> Response:
        """The module's latest version answers (loaded on first use)."""
        return await self.proxy(request, name, LATEST, f"{self.base}/v2/models/{name}/ready")

    async def version_ready(self, request: Request, name: str, ref: str) -> Response:
        """A version or alias answers (loaded on first use)."""
        return await self.proxy(request, name, ref, f"{self.base}/v2/models/{name}/ready")

    async def infer(self, request: Request, name: str) -> Response:
        """Infer with the latest version."""
        return await self.infer_version(request, name, LATEST)

    async def infer_version(self, request: Request, name: str, ref: str) -> Response:
        """Infer with a version or alias."""
        return await self.proxy(request, name, ref, f"{self.base}/v2/models/{name}/infer")


def add_proxied_routes(
    router: APIRouter, endpoints: ProxiedInference, models: str, debug: bool = False
) -> None:
    """The OIP model routes of the platform's gateway, on ``router`` under ``models``
    (``{base}/v2/models``); a version's metadata is the gateway's own version route."""
    routes: list[tuple[str, Endpoint, str]] = [
        ("/{name}/ready", endpoints.model_ready, "GET"),
        ("/{name}/versions/{ref}/ready", endpoints.version_ready, "GET"),
        ("/{name}/infer", endpoints.infer, "POST"),
        ("/{name}/versions/{ref}/infer", endpoints.infer_version, "POST"),
    ]
    add_routes(router, models, routes, debug)
