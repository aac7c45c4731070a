#!/usr/bin/env python3
"""Rollouts through ``modelport up``'s real HTTP path: the canary split, and rollback of a fault.

    .venv/bin/python bench/rollout.py [--calls 10000] [--concurrency 8] [--faults 3]

Three versions of one module ``calc`` (written at run time into a temp dir on the server's
``PYTHONPATH``): 1.0.0 and 1.1.0 answer ``{"y": 2x}``, 2.0.0 fails every prediction (500).

- **Split**: a rollout on ``stable`` with 1.0.0 primary and 1.1.0 canary at 10 % (automatic
  rollback off); ``--calls`` predictions to ``/v2/models/calc/versions/stable/predict/`` from
  ``--concurrency`` keep-alive connections. Reported: each version's share (from
  ``X-Modelport-Model-Version``), the canary's deviation from 10 % in percentage points (the
  goal: within ±1.5), the throughput.
- **Fault**: the rollout replaced by 2.0.0 as canary at 10 % (window 10 s, at least 20 canary
  answers, error-rate margin 5 %), then predictions one at a time until the rollout says
  ``rolled back``. Reported per try: the time from the canary's first 500 to the rollback,
  in seconds and in windows (the goal: within one), and the canary's answers until then.

Results: bench/results/rollout.json. Needs only the standard library and modelport.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_kit import HOST, REPO, bench_metadata, publish, request, running_up

PREDICT = "/v2/models/calc/versions/stable/predict/"
ROLLOUT = "/catalog/modules/calc/rollouts/stable"
WINDOW = 10.0
MODULE = '''
from modelport import Model


class Double(Model):
    """Double x."""

    def predict(self, x: int = 1) -> dict[str, int]:
        return {"y": 2 * x}


class Faulty(Model):
    """Fail (an injected fault)."""

    def predict(self, x: int = 1) -> dict[str, int]:
        raise RuntimeError("an injected fault")
'''


def publish_calc(data_dir: Path) -> None:
    meta = bench_metadata("A rollout benchmark module", "Doubles x, or fails.")
    for version, spec in (("1.0.0", "Double"), ("1.1.0", "Double"), ("2.0.0", "Faulty")):
        publish(data_dir, "calc", version, f"mp_rollout_bench:{spec}", meta)


def split(port: int, calls: int, concurrency: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    policy = {"enabled": False}
    body = {"primary": "1.0.0", "canary": "1.1.0", "weight": 10, "policy": policy}
    status, _, content = request(conn, "PUT", ROLLOUT, body)
    assert status == 200, content
    for _ in range(20):  # both workers started before timing
        request(conn, "POST", PREDICT, {"x": 1})
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    share = [calls // concurrency + (i < calls % concurrency) for i in range(concurrency)]

    def worker(n: int) -> None:
        own = http.client.HTTPConnection(HOST, port, timeout=60)
        seen: collections.Counter[str] = collections.Counter()
        for _ in range(n):
            status, headers, content = request(own, "POST", PREDICT, {"x": 3})
            if status != 200:
                raise RuntimeError(f"{status} {content!r}")
            seen[headers["x-modelport-model-version"]] += 1
        with lock:
            counts.update(seen)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    canary = counts["1.1.0"] / total * 100
    return {
        "calls": total,
        "concurrency": concurrency,
        "weights": {"1.0.0": 90, "1.1.0": 10},
        "counts": dict(counts),
        "shares_percent": {v: round(c / total * 100, 3) for v, c in counts.items()},
        "canary_deviation_points": round(canary - 10, 3),
        "within_1_5_points": abs(canary - 10) <= 1.5,
        "seconds": round(elapsed, 3),
        "calls_per_second": round(total / elapsed, 1),
    }


def fault(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    policy = {"window_seconds": WINDOW, "min_requests": 20, "error_rate_margin": 0.05}
    body = {"primary": "1.0.0", "canary": "2.0.0", "weight": 10, "policy": policy}
    status, _, content = request(conn, "PUT", ROLLOUT, body)
    assert status == 200, content
    first_error = None
    canary_answers = 0
    calls = 0
    while True:
        calls += 1
        status, headers, _ = request(conn, "POST", PREDICT, {"x": 3})
        if headers.get("x-modelport-model-version") == "2.0.0":
            canary_answers += 1
            if first_error is None and status >= 500:
                first_error = time.perf_counter()
        _, _, content = request(conn, "GET", ROLLOUT)
        if json.loads(content)["state"] == "rolled back":
            break
        if calls > 100_000:
            raise RuntimeError("no rollback")
    assert first_error is not None
    seconds = time.perf_counter() - first_error
    doc = json.loads(content)
    return {
        "seconds_from_first_fault": round(seconds, 3),
        "windows": round(seconds / WINDOW, 3),
        "canary_answers": canary_answers,
        "calls": calls,
        "reason": doc["reason"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--faults", type=int, default=3)
    args = parser.parse_args()
    with running_up({"mp_rollout_bench": MODULE}, publish_calc) as port:
        result: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "split": split(port, args.calls, args.concurrency),
            "faults": [fault(port) for _ in range(args.faults)],
        }
    out = REPO / "bench" / "results" / "rollout.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
