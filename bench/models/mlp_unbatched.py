"""The batching benchmark's unbatched model: ``mp_fixtures.batched:Mlp`` without ``@batch``.

Same name, weights (seed 0) and numpy code; ``predict`` takes one request, so every request is
its own 1 x 256 matrix product. Served by ``bench/batching.py`` as ``mlp_unbatched:Mlp``.
"""

from __future__ import annotations

import numpy as np

from modelport import Model

WIDTH = 256


class Mlp(Model):
    """A 2-layer MLP over 256 floats, one request per call."""

    name = "mlp"
    version = "1.0.0"
    license = "MIT"

    def warm(self) -> None:
        rng = np.random.default_rng(0)
        self.w1 = rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)
        self.w2 = rng.standard_normal((WIDTH, 8)) / np.sqrt(WIDTH)

    def predict(self, x: list[float]) -> list[float]:
        """Scores of the request's 256 inputs (8 numbers)."""
        if len(x) != WIDTH:
            raise ValueError(f"x must hold {WIDTH} numbers, not {len(x)}")
        rows = np.asarray([x], dtype=np.float64)
        hidden = np.maximum(rows @ self.w1, 0.0)
        return (hidden @ self.w2)[0].tolist()  # type: ignore[no-any-return]
