"""Synthetic network traffic shaped like an intrusion-detection data set, with injected attacks.

Each record is one connection: ``duration`` (s), ``bytes_in``, ``bytes_out``, ``packets``,
``port``, ``protocol`` (tcp, udp, icmp), a ``timestamp`` and a ``label``: ``normal`` or the kind
of attack injected (``exfiltration``: huge uploads, ``dos``: floods of tiny packets,
``port-scan``: empty probes of unusual ports).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

FIELDS = ("timestamp", "duration", "bytes_in", "bytes_out", "packets", "port", "protocol", "label")
ATTACKS = ("exfiltration", "dos", "port-scan")
_SERVICES = (
    (443, "tcp", 0.45),
    (80, "tcp", 0.2),
    (53, "udp", 0.2),
    (22, "tcp", 0.1),
    (0, "icmp", 0.05),
)
_START = datetime(2026, 1, 1, tzinfo=UTC)


def _normal(rng: np.random.Generator) -> dict[str, Any]:
    port, protocol, _ = _SERVICES[rng.choice(len(_SERVICES), p=[s[2] for s in _SERVICES])]
    packets = int(rng.lognormal(3.0, 0.6)) + 1
    size = rng.lognormal(6.0, 0.5)
    return {
        "duration": round(float(rng.lognormal(0.0, 0.7)), 4),
        "bytes_in": int(packets * size * rng.uniform(0.6, 1.4)),
        "bytes_out": int(packets * size * rng.uniform(0.1, 0.4)),
        "packets": packets,
        "port": port,
        "protocol": protocol,
    }


def _attack(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    if kind == "exfiltration":
        packets = int(rng.integers(2_000, 20_000))
        return {
            "duration": round(float(rng.uniform(60, 600)), 4),
            "bytes_in": int(rng.integers(1_000, 5_000)),
            "bytes_out": packets * 1400,
            "packets": packets,
            "port": 443,
            "protocol": "tcp",
        }
    if kind == "dos":
        packets = int(rng.integers(20_000, 100_000))
        return {
            "duration": round(float(rng.uniform(0.5, 3)), 4),
            "bytes_in": packets * 60,
            "bytes_out": 0,
            "packets": packets,
            "port": 80,
            "protocol": "udp",
        }
    return {
        "duration": 0.0,
        "bytes_in": 0,
        "bytes_out": 60,
        "packets": 1,
        "port": int(rng.integers(1_024, 65_536)),
        "protocol": "tcp",
    }


def generate(n: int, anomaly_rate: float = 0.02, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` connection records, about ``anomaly_rate`` of them attacks, a second apart."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        kind = str(rng.choice(ATTACKS)) if rng.random() < anomaly_rate else "normal"
        record = _normal(rng) if kind == "normal" else _attack(kind, rng)
        stamp = (_START + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        records.append({"timestamp": stamp, **record, "label": kind})
    return records


def to_ndjson(records: Iterable[dict[str, Any]]) -> str:
    """Records as newline-delimited JSON."""
    return "".join(json.dumps(r) + "\n" for r in records)


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    """Records as CSV with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m stream_anomaly.traffic OUT.ndjson|OUT.csv [--n 1000] [--anomaly-rate 0.02]``."""
    import argparse

    parser = argparse.ArgumentParser(description=generate.__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--anomaly-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    records = generate(args.n, args.anomaly_rate, args.seed)
    text = to_csv(records) if args.dest.suffix == ".csv" else to_ndjson(records)
    args.dest.write_text(text)
    print(args.dest)


if __name__ == "__main__":
    main()
