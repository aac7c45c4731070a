"""The batching benchmark's unbatched model: ``mlp_batched:Mlp`` without ``@batch``.

Same name, weights (seed 0, hidden width ``$MLP_HIDDEN``) and numpy code (``mlp_core``);
``predict`` takes one request, so every request is its own 1 x 256 matrix product. Served by
``bench/batching.py`` as ``mlp_unbatched:Mlp``.
"""

from __future__ import annotations

import mlp_core

from modelport import Model


class Mlp(Model):
    """A 2-layer MLP over 256 floats, one request per call."""

    name = "mlp"
    version = "1.0.0"
    license = "MIT"

    def warm(self) -> None:
        self.w1, self.w2 = mlp_core.weights(mlp_core.hidden_width())

    def predict(self, x: list[float]) -> list[float]:
        """Scores of the request's 256 inputs (8 numbers)."""
        if error := mlp_core.wrong_width(x):
            raise error
        return mlp_core.forward(self.w1, self.w2, [x])[0]
