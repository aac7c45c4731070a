"""Prometheus metrics of a serving process, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServingMetrics:
    """Counters, histograms and gauges for predictions, per model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "modelport_requests",
            "Model requests by model, endpoint and HTTP status code.",
            ["model", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelport_request_duration_seconds",
            "Time to answer a model request, seconds.",
            ["model", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "modelport_in_flight",
            "Predictions running or waiting for a worker.",
            ["model"],
            registry=self.registry,
        )
        self.errors = Counter(
            "modelport_errors",
            "Failed model requests by kind (invalid_input, model_error, timeout, overloaded, ...).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "modelport_rejected",
            "Predictions refused because the model's workers and queue were full.",
            ["model"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "modelport_batch_size",
            "Requests per call of a batched model's predict.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_wait = Histogram(
            "modelport_batch_queue_wait_seconds",
            "Time a request of a batched model waited for its batch to start, seconds.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.warm_seconds = Gauge(
            "modelport_model_warm_seconds",
            "Time the model's warm() took, seconds.",
            ["model"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
