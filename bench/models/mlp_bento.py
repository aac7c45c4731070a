"""The batching benchmark's BentoML service: the same MLP behind a batchable API.

Runs in its own venv, never in modelport's lock::

    uv venv /tmp/bench-bento && VIRTUAL_ENV=/tmp/bench-bento uv pip install bentoml numpy
    /tmp/bench-bento/bin/bentoml serve mlp_bento:Mlp --host 127.0.0.1 --port P

A batchable API takes a batch per HTTP request: a client sends ``{"x": [[256 floats]]}`` (a
batch of one) and gets ``[[8 floats]]``; BentoML's dispatcher merges concurrent requests along
dimension 0 into calls of up to 64 rows. Same weights (seed 0, hidden width ``$MLP_HIDDEN``) and
numpy code (``mlp_core``) as ``mlp_batched:Mlp``.
"""

from __future__ import annotations

import bentoml
import mlp_core


@bentoml.service(workers=1)
class Mlp:
    """A 2-layer MLP over 256 floats: a batch of requests is one matrix product per layer."""

    def __init__(self) -> None:
        self.w1, self.w2 = mlp_core.weights(mlp_core.hidden_width())

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=60_000)
    def predict(self, x: list[list[float]]) -> list[list[float]]:
        """Scores of each row's 256 inputs (8 per row)."""
        return mlp_core.forward(self.w1, self.w2, x)
