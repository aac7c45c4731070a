"""Wiring: the gateway's :class:`~modelport.rollouts.router.RolloutRouter` over a model server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.gateway.metrics import GatewayMetrics
from modelport.rollouts.router import RolloutRouter
from modelport.rollouts.service import RolloutService

if TYPE_CHECKING:
    from modelport.catalog.service import CatalogService
    from modelport.gateway.base import ModelServer


def build_rollout_router(pool: ModelServer, catalog: CatalogService) -> RolloutRouter:
    """Routes to aliases under a rollout through ``pool``; its metrics join the pool's."""
    metrics = getattr(pool, "metrics", None)
    return RolloutRouter(
        pool, RolloutService(catalog), metrics if isinstance(metrics, GatewayMetrics) else None
    )
