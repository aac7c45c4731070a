"""Prometheus metrics of the gateway's model pool (cold starts, loaded models, unloads), and of
the versions of rollouts (requests, errors, latency by role; shadows; rollbacks)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_COLD_START_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_ROLLED = ["model", "version", "role"]


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
        # rollouts (modelport.rollouts): role is primary, canary or shadow
        self.version_requests = Counter(
            "modelport_gateway_version_requests",
            "Predictions answered by a version of a rollout, by role.",
            _ROLLED,
            registry=self.registry,
        )
        self.version_errors = Counter(
            "modelport_gateway_version_errors",
            "Predictions of a version of a rollout that failed (5xx, or no answer), by role.",
            _ROLLED,
            registry=self.registry,
        )
        self.version_latency = Histogram(
            "modelport_gateway_version_latency_seconds",
            "Time for a version of a rollout to answer, seconds, by role.",
            _ROLLED,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shadow_comparisons = Counter(
            "modelport_gateway_shadow_comparisons",
            "Shadow answers compared with the primary's (agreed, disagreed, not_json).",
            ["model", "version", "outcome"],
            registry=self.registry,
        )
        self.shadow_skipped = Counter(
            "modelport_gateway_shadow_skipped",
            "Requests not shadowed, by reason (busy, too_large, stream).",
            ["model", "reason"],
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "modelport_gateway_rollbacks",
            "Canaries rolled back automatically by this replica.",
            ["model", "alias"],
            registry=self.registry,
        )
