"""The batching benchmark's MLP: weights and forward pass shared by all four targets.

A 2-layer MLP on 256 floats: ``256 x H`` then ReLU then ``H x 8``, float64 weights drawn with
``numpy.random.default_rng(0)``. ``H`` comes from ``$MLP_HIDDEN`` (default 256, the model of
``results/batching.md``; ``results/batching-wide.md`` uses 65536). modelport's two classes, the
BentoML service and the Ray Serve app all call :func:`weights` and :func:`forward`, so they
compute the same numbers with the same numpy code; ``bench/batching.py`` does too, to check their
answers. Only numpy is imported, so BentoML's own venv can import this module.

    python bench/models/mlp_core.py 256 65536   # in-process cost of 1 row vs a batch of 64

prints, per hidden width, the median time of ``forward`` on 1 row and on 64 rows (nested lists
in, lists out, as the servers call it); set ``OMP_NUM_THREADS`` etc. to 1 to match the servers.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import numpy as np

WIDTH = 256
OUTPUTS = 8
DEFAULT_HIDDEN = 256


def hidden_width() -> int:
    """The hidden layer's width: ``$MLP_HIDDEN``, 256 when unset."""
    return int(os.environ.get("MLP_HIDDEN", DEFAULT_HIDDEN))


def weights(hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """The two weight matrices (256 x hidden, hidden x 8), seed 0."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((WIDTH, hidden)) / np.sqrt(WIDTH)
    w2 = rng.standard_normal((hidden, OUTPUTS)) / np.sqrt(hidden)
    return w1, w2


def forward(w1: np.ndarray, w2: np.ndarray, x: list[list[float]]) -> list[list[float]]:
    """Scores of each row of ``x`` (8 per row): one matrix product per layer for all rows."""
    rows = np.asarray(x, dtype=np.float64)
    hidden = np.maximum(rows @ w1, 0.0)
    return (hidden @ w2).tolist()  # type: ignore[no-any-return]


def wrong_width(row: list[float]) -> ValueError | None:
    """The error of a row that does not hold 256 numbers, else None."""
    return None if len(row) == WIDTH else ValueError(f"x must hold {WIDTH} numbers, not {len(row)}")


def cost(hidden: int, rows: int, reps: int) -> float:
    """Median seconds of one :func:`forward` call on ``rows`` rows."""
    w1, w2 = weights(hidden)
    rng = random.Random(1)
    x = [[round(rng.uniform(-1, 1), 6) for _ in range(WIDTH)] for _ in range(rows)]
    forward(w1, w2, x)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        forward(w1, w2, x)
        times.append(time.perf_counter() - t0)
    return sorted(times)[reps // 2]


def calibrate(hidden: int) -> dict[str, float]:
    """In-process cost of a request unbatched and in a batch of 64, in microseconds."""
    budget = 2.0
    one = cost(hidden, 1, 3)
    unbatched = cost(hidden, 1, max(5, min(200, int(budget / one))))
    batch = cost(hidden, 64, max(5, min(30, int(budget / (64 * one)))))
    return {
        "hidden": hidden,
        "unbatched_us": round(unbatched * 1e6, 1),
        "batch64_us": round(batch * 1e6, 1),
        "batch64_per_row_us": round(batch / 64 * 1e6, 1),
        "unbatched/per_row": round(unbatched / (batch / 64), 2),
    }


if __name__ == "__main__":
    for h in sys.argv[1:] or [str(hidden_width())]:
        print(json.dumps(calibrate(int(h))), flush=True)
