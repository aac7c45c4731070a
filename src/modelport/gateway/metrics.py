"""Prometheus metrics of the gateway's model pool (cold starts, loaded models, unloads)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_COLD_START_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)


class GatewayMetrics:
    """Cold-start histogram per model, loaded-models gauge, unloads by reason.

    Registered in ``registry`` (e.g. the serving metrics' registry, so one ``/metrics`` shows
    both), or in a registry of its own.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.cold_start = Histogram(
            "modelport_gateway_cold_start_seconds",
            "Time from spawning a catalog model's worker to its being ready, seconds.",
            ["model"],
            buckets=_COLD_START_BUCKETS,
            registry=self.registry,
        )
        self.loaded = Gauge(
            "modelport_gateway_models_loaded",
            "Catalog model workers loaded now.",
            registry=self.registry,
        )
        self.unloads = Counter(
            "modelport_gateway_unloads",
            "Catalog model workers unloaded, by reason (idle, lru, crash, shutdown).",
            ["model", "reason"],
            registry=self.registry,
        )
        self.start_failures = Counter(
            "modelport_gateway_start_failures",
            "Catalog model workers that failed to start (import, warm, artifacts, timeout).",
            ["model"],
            registry=self.registry,
        )
