"""Rollouts of a catalog module's aliases (``modelport.rollouts``): ``{base}/catalog/modules/
{name}/rollouts...``.

- ``GET .../rollouts``: the module's rollouts; ``GET .../rollouts/{alias}``: one, with what this
  replica saw over its window (``live``: requests, errors, p50/p95 per role, shadow agreement).
- ``PUT .../rollouts/{alias}`` ``{"primary", "canary", "weight", "shadow", "sticky_header",
  "policy"}`` starts (or replaces) it; the alias then names the primary.
- ``POST .../rollouts/{alias}/weight`` ``{"weight": 10}``, ``.../shadow`` ``{"version": ...}``
  (null: none), ``.../promote`` (the canary becomes the primary), ``.../rollback``
  ``{"reason": ...}`` (the canary's weight goes to 0); ``DELETE .../rollouts/{alias}`` ends it
  (the alias stays, at the primary).
- ``GET .../rollouts/{alias}/history``: the audit log, newest first (who, when, from -> to).

Writes need the module's owner or an admin (``auth.policy.check_manage_rollout``); a mistake is
422 naming the field, a yanked version 409.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from modelport.api.auth import CurrentPrincipal
from modelport.rollouts.domain import Rollout, RolloutEvent
from modelport.rollouts.service import RolloutService, RolloutSpec
from modelport.rollouts.window import LiveStats
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.rollouts.router import RolloutRouter


class RolloutStatus(Rollout):
    """A rollout, each version's share, and what this replica saw of it over its window."""

    shares: dict[str, float] = Field(description="each version's share, percent")
    live: LiveStats | None = Field(
        None, description="this replica's window (none: it routed nothing since the change)"
    )


class WeightRequest(BaseModel):
    """The canary's share."""

    weight: float = Field(ge=0, le=100, description="percent, 0-100")


class ShadowRequest(BaseModel):
    """The version shadowing the alias's traffic."""

    version: str | None = Field(description="a version; null: stop shadowing")


class RollbackRequest(BaseModel):
    """Why the canary is rolled back."""

    reason: str | None = Field(None, max_length=1000)


class RolloutEndpoints:
    """One method per route (FastAPI endpoints: no docstrings, see ``api/catalog.py``)."""

    def __init__(self, service: RolloutService, router: RolloutRouter | None) -> None:
        self.service = service
        self.router = router

    def status(self, rollout: Rollout) -> RolloutStatus:
        live = self.router.live(rollout) if self.router is not None else None
        return RolloutStatus(**rollout.model_dump(), shares=rollout.weights, live=live)

    def list_rollouts(self, name: str, principal: CurrentPrincipal) -> list[RolloutStatus]:
        return [self.status(r) for r in self.service.rollouts(name, principal)]

    def get_rollout(self, name: str, alias: str, principal: CurrentPrincipal) -> RolloutStatus:
        return self.status(self.service.rollout(name, alias, principal))

    def start_rollout(
        self, name: str, alias: str, spec: RolloutSpec, principal: CurrentPrincipal
    ) -> RolloutStatus:
        return self.status(self.service.start(name, alias, spec, principal))

    def set_weight(
        self, name: str, alias: str, request: WeightRequest, principal: CurrentPrincipal
    ) -> RolloutStatus:
        return self.status(self.service.set_weight(name, alias, request.weight, principal))

    def set_shadow(
        self, name: str, alias: str, request: ShadowRequest, principal: CurrentPrincipal
    ) -> RolloutStatus:
        return self.status(self.service.set_shadow(name, alias, request.version, principal))

    def promote(self, name: str, alias: str, principal: CurrentPrincipal) -> RolloutStatus:
        return self.status(self.service.promote(name, alias, principal))

    def rollback(
        self,
        name: str,
        alias: str,
        principal: CurrentPrincipal,
        request: RollbackRequest | None = None,
    ) -> RolloutStatus:
        reason = request.reason if request is not None else None
        return self.status(self.service.rollback(name, alias, reason, principal))

    def end_rollout(self, name: str, alias: str, principal: CurrentPrincipal) -> dict[str, str]:
        self.service.end(name, alias, principal)
        return {"ended": alias}

    def history(
        self,
        name: str,
        alias: str,
        principal: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[RolloutEvent]:
        return self.service.history(name, alias, principal, limit)


def rollouts_router(
    service: RolloutService, settings: Settings, router: RolloutRouter | None = None
) -> APIRouter:
    """The rollout routes (``router``: the gateway's, for the live window; none without one)."""
    api = RolloutEndpoints(service, router)
    routes = APIRouter(prefix=f"{settings.base_path}/catalog/modules/{{name}}/rollouts")
    tags: list[str | Enum] = ["catalog rollouts"]

    def add(path: str, endpoint: Callable[..., Any], method: str, summary: str) -> None:
        routes.add_api_route(path, endpoint, methods=[method], tags=tags, summary=summary)

    add("", api.list_rollouts, "GET", "A module's rollouts")
    add("/{alias}", api.get_rollout, "GET", "A rollout, with this replica's window")
    add("/{alias}", api.start_rollout, "PUT", "Start or replace a rollout (owner or admin)")
    add("/{alias}", api.end_rollout, "DELETE", "End a rollout; the alias stays at its primary")
    add("/{alias}/weight", api.set_weight, "POST", "Set the canary's weight, percent")
    add("/{alias}/shadow", api.set_shadow, "POST", "Set or clear the shadow version")
    add("/{alias}/promote", api.promote, "POST", "Promote the canary to primary")
    add("/{alias}/rollback", api.rollback, "POST", "Roll the canary back (weight 0)")
    add("/{alias}/history", api.history, "GET", "The rollout's audit log, newest first")
    return routes
