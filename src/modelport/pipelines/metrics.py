"""Prometheus metrics of pipelines: each step's time, and failures by the step that failed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class PipelineMetrics:
    """Per (pipeline, step): a step-time histogram and a failure counter, in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.steps = Histogram(
            "modelport_pipeline_step_seconds",
            "Time of one pipeline step (a fan-out's: all its calls), seconds.",
            ["pipeline", "step"],
            buckets=_STEP_BUCKETS,
            registry=self.registry,
        )
        self.failures = Counter(
            "modelport_pipeline_failures",
            "Pipeline calls that failed, by the step that failed.",
            ["pipeline", "step"],
            registry=self.registry,
        )
