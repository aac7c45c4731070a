"""The batching benchmark's batched model: the MLP behind ``@batch(max_size=64, max_wait_ms=5)``.

The code of ``mp_fixtures.batched:Mlp`` (tests/fixtures/site), with the hidden width read from
``$MLP_HIDDEN`` at warm (``mlp_core``); at the default width (256) it computes the same numbers.
Served by ``bench/batching.py`` as ``mlp_batched:Mlp``.
"""

from __future__ import annotations

import mlp_core

from modelport import Model, batch


class Mlp(Model):
    """A 2-layer MLP over 256 floats: a batch of requests is one matrix product per layer."""

    name = "mlp"
    version = "1.0.0"
    license = "MIT"

    def warm(self) -> None:
        self.w1, self.w2 = mlp_core.weights(mlp_core.hidden_width())

    @batch(max_size=64, max_wait_ms=5)
    def predict(self, x: list[list[float]]) -> list[list[float]]:
        """Scores of each request's 256 inputs (8 per request)."""
        for row in x:
            if error := mlp_core.wrong_width(row):
                raise error  # modelport then calls predict per request: only this one fails
        return mlp_core.forward(self.w1, self.w2, x)
