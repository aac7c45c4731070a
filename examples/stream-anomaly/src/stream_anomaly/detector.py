"""The detector: robust z-scores of a record's features, fitted on history, updated online.

``fit`` takes the median and the scaled median absolute deviation of every numeric feature over
the history (robust: the attacks in it barely move them) and counts ports and protocols, whose
rarity (-log of the smoothed frequency) is a score of its own. Online,
each record judged normal nudges the centre and spread (exponentially weighted, rate
``alpha``) and the counts, so the detector follows slow drift; anomalous records never do, so
an attack cannot teach the detector that it is normal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream_anomaly.records import FEATURES, TrafficRecord, features

_MAD_TO_SIGMA = 1.4826
_MIN_SCALE = 0.05  # log-scale units: a constant feature still tolerates a little noise
# Rarities are surprises in nats already (a value seen with probability p scores -log p): they
# are compared with the threshold as they are, and never shifted by the online updates.
_SURPRISE = np.array([name.endswith("_rarity") for name in FEATURES])


@dataclass(frozen=True)
class Verdict:
    """A record's score (its largest |z|), whether it is anomalous, and the features why."""

    score: float
    anomaly: bool
    reasons: list[str]


@dataclass
class Detector:
    """Fitted state: per-feature centre and scale, value counts, threshold and online rate."""

    center: list[float]
    scale: list[float]
    ports: dict[str, float] = field(default_factory=dict)
    protocols: dict[str, float] = field(default_factory=dict)
    threshold: float = 5.0
    alpha: float = 0.01
    fitted_on: int = 0
    updates: int = 0
    source: str = "history"

    @classmethod
    def fit(
        cls,
        records: Sequence[TrafficRecord],
        *,
        threshold: float = 5.0,
        alpha: float = 0.01,
        source: str = "history",
    ) -> Detector:
        """Fit robust centre and scale on ``records`` (at least 10)."""
        if len(records) < 10:
            raise ValueError(f"need at least 10 records to fit, got {len(records)}")
        ports = {k: float(v) for k, v in Counter(str(r.port) for r in records).items()}
        protocols = {k: float(v) for k, v in Counter(str(r.protocol) for r in records).items()}
        matrix = np.vstack([features(r, ports, protocols) for r in records])
        center = np.where(_SURPRISE, 0.0, np.median(matrix, axis=0))
        mad = np.median(np.abs(matrix - center), axis=0) * _MAD_TO_SIGMA
        return cls(
            center=center.tolist(),
            scale=np.where(_SURPRISE, 1.0, np.maximum(mad, _MIN_SCALE)).tolist(),
            ports=ports,
            protocols=protocols,
            threshold=threshold,
            alpha=alpha,
            fitted_on=len(records),
            source=source,
        )

    def vector(self, record: TrafficRecord) -> NDArray[np.float64]:
        """The record's features under the current counts."""
        return features(record, self.ports, self.protocols)

    def judge(self, record: TrafficRecord) -> Verdict:
        """Score a record without changing the detector."""
        z = np.abs(self.vector(record) - np.asarray(self.center)) / np.asarray(self.scale)
        score = float(z.max())
        reasons = [FEATURES[i] for i in np.argsort(-z) if z[i] > self.threshold]
        return Verdict(round(score, 4), score > self.threshold, reasons)

    def learn(self, record: TrafficRecord) -> None:
        """Move towards a normal record: centre, spread and counts (exponentially weighted)."""
        x = self.vector(record)
        center, scale = np.asarray(self.center), np.asarray(self.scale)
        delta = np.where(_SURPRISE, 0.0, x - center)
        variance = (1 - self.alpha) * (scale**2 + self.alpha * delta**2)
        self.center = (center + self.alpha * delta).tolist()
        self.scale = np.where(_SURPRISE, scale, np.maximum(np.sqrt(variance), _MIN_SCALE)).tolist()
        self.ports[str(record.port)] = self.ports.get(str(record.port), 0.0) + 1
        self.protocols[record.protocol] = self.protocols.get(record.protocol, 0.0) + 1
        self.updates += 1

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-able data (with the feature names, for people reading it)."""
        return {"features": list(FEATURES), **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Detector:
        """Rebuild from :meth:`to_json`'s output."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})
