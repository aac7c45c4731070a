"""Summary statistics computed chunk by chunk: totals, per-step series, histogram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RunningStats:
    """Count, mean, variance (Chan's parallel merge), min, max and NaNs over all chunks."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    nans: int = 0
    step_mean: list[float] = field(default_factory=list)
    step_min: list[float] = field(default_factory=list)
    step_max: list[float] = field(default_factory=list)

    def add(self, block: np.ndarray[Any, Any]) -> None:
        """Merge one chunk (its first axis: steps)."""
        values = np.asarray(block, dtype=np.float64).reshape(len(block), -1)
        finite = np.isfinite(values)
        self.nans += int((~finite).sum())
        for row, ok in zip(values, finite, strict=True):
            kept = row[ok]
            self.step_mean.append(float(kept.mean()) if kept.size else float("nan"))
            self.step_min.append(float(kept.min()) if kept.size else float("nan"))
            self.step_max.append(float(kept.max()) if kept.size else float("nan"))
        kept = values[finite]
        if not kept.size:
            return
        n, mean = kept.size, float(kept.mean())
        m2 = float(((kept - mean) ** 2).sum())
        delta, total = mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.count * n / total
        self.count = total
        self.minimum = min(self.minimum, float(kept.min()))
        self.maximum = max(self.maximum, float(kept.max()))

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return float(np.sqrt(self.m2 / self.count)) if self.count else float("nan")

    def summary(self) -> dict[str, Any]:
        """The totals as JSON-able data."""
        return {
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
            "nans": self.nans,
        }


@dataclass
class Histogram:
    """Counts of values in ``bins`` equal bins between ``low`` and ``high``."""

    low: float
    high: float
    bins: int
    counts: np.ndarray[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.bins, dtype=np.int64)
        if self.high <= self.low:
            self.high = self.low + 1.0

    def add(self, block: np.ndarray[Any, Any]) -> None:
        """Count one chunk's finite values."""
        values = np.asarray(block, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        counts, _ = np.histogram(values, bins=self.bins, range=(self.low, self.high))
        self.counts += counts

    @property
    def edges(self) -> list[float]:
        """The bin edges (``bins + 1`` values)."""
        return [float(v) for v in np.linspace(self.low, self.high, self.bins + 1)]
