"""FastAPI dependencies for authentication and role/scope checks.

Routes declare what they need: ``principal: CurrentPrincipal`` for "who is calling", or
``dependencies=[require(role="trainer", scope="train")]``. The app's
:class:`~modelport.auth.authenticator.Authenticator` lives in ``app.state.authenticator``;
without one (plain ``modelport serve``) every caller is the local admin.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import Depends, Request

from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.errors import Forbidden


def bearer_token(request: Request) -> str | None:
    """The request's bearer token, from the Authorization header (else None)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_principal(request: Request) -> Principal:
    """Who is calling (cached on the request); Unauthorized when auth is on and nobody is."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    authenticator = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        principal = LOCAL_PRINCIPAL
    else:
        principal = await anyio.to_thread.run_sync(
            authenticator.authenticate, bearer_token(request)
        )
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
