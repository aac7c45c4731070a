"""The batching benchmark's BentoML service: the same MLP behind a batchable API.

Runs in its own venv, never in modelport's lock::

    uv venv /tmp/bench-bento && VIRTUAL_ENV=/tmp/bench-bento uv pip install bentoml numpy
    /tmp/bench-bento/bin/bentoml serve mlp_bento:Mlp --host 127.0.0.1 --port P

A batchable API takes a batch per HTTP request: a client sends ``{"x": [[256 floats]]}`` (a
batch of one) and gets ``[[8 floats]]``; BentoML's dispatcher merges concurrent requests along
dimension 0 into calls of up to 64 rows. Same weights (seed 0) and numpy code as
``mp_fixtures.batched:Mlp``.
"""

from __future__ import annotations

import bentoml
import numpy as np

WIDTH = 256


@bentoml.service(workers=1)
class Mlp:
    """A 2-layer MLP over 256 floats: a batch of requests is one matrix product."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.w1 = rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)
        self.w2 = rng.standard_normal((WIDTH, 8)) / np.sqrt(WIDTH)

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=60_000)
    def predict(self, x: list[list[float]]) -> list[list[float]]:
        """Scores of each row's 256 inputs (8 per row)."""
        rows = np.asarray(x, dtype=np.float64)
        hidden = np.maximum(rows @ self.w1, 0.0)
        return (hidden @ self.w2).tolist()  # type: ignore[no-any-return]
