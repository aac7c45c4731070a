#!/usr/bin/env python3
"""What a pipeline costs over its steps: a 3-step chain of trivial modules through ``modelport up``.

    .venv/bin/python bench/pipeline.py [--calls 2000] [--rounds 3]

Three typed modules (``step-a``, ``step-b``, ``step-c``: each adds 1 to ``x``; written at run
time into a temp dir on the server's ``PYTHONPATH``) are published into a fresh ``up``, and the
pipeline ``chain`` = a → b → c. A keep-alive ``http.client`` connection calls, one at a time
(c=1), interleaved call by call: the pipeline, then each module directly
(``POST /v2/models/<m>/predict/`` with the same JSON body). Reported, medians over rounds of
each round's p50:

- ``overhead_ms`` = p50(pipeline) - (p50(a) + p50(b) + p50(c)): what a pipeline costs over
  calling its steps one after another from the client (the goal: ≤ 2 ms). Negative means the
  pipeline is cheaper: it saves two round trips and two request parses;
- ``inside_ms`` = p50 of the pipeline's own ``Server-Timing``: ``pipeline`` minus the sum of its
  steps' times (the engine's own cost: references, encoding, the graph).

Results: bench/results/pipeline.json. Needs only the standard library and modelport.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_kit import HOST, REPO, bench_metadata, p50, publish, running_up, timed_post

MODULE = '''
from modelport import Model


class Step(Model):
    """Add one (a pipeline benchmark's step)."""

    def predict(self, x: int) -> dict[str, int]:
        return {"x": x + 1}
'''
CHAIN = {
    "name": "chain",
    "version": "1.0.0",
    "steps": [
        {"id": "a", "module": "step-a", "inputs": {"x": "$input.x"}},
        {"id": "b", "module": "step-b", "inputs": {"x": "$steps.a.x"}},
        {"id": "c", "module": "step-c", "inputs": {"x": "$steps.b.x"}},
    ],
    "output": "$steps.c",
}


def publish_steps(data_dir: Path) -> None:
    meta = bench_metadata("A benchmark step", "Adds one.")
    for name in ("step-a", "step-b", "step-c"):
        publish(data_dir, name, "1.0.0", "mp_pipe_bench:Step", meta)


def inside(timing: str) -> float:
    """The pipeline's own time minus its steps' (ms), from its Server-Timing header."""
    durations = dict(re.findall(r"(?:^|, )([\w-]+);dur=([\d.]+)", timing))
    total = float(durations.pop("pipeline"))
    return total - sum(float(v) for v in durations.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with running_up({"mp_pipe_bench": MODULE}, publish_steps) as port:
        result = run(port, args.calls, args.rounds)
    out = REPO / "bench" / "results" / "pipeline.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


def run(port: int, calls: int, rounds: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request(
        "POST", "/pipelines", body=json.dumps(CHAIN), headers={"Content-Type": "application/json"}
    )
    published = conn.getresponse()
    if published.status != 201:
        raise RuntimeError(f"publish: {published.status} {published.read()!r}")
    published.read()
    body = json.dumps({"x": 1}).encode()
    paths = {
        "pipeline": "/v2/models/chain/predict/",
        **{m: f"/v2/models/{m}/predict/" for m in ("step-a", "step-b", "step-c")},
    }
    for path in paths.values():  # warm: workers started, caches filled
        for _ in range(200):
            timed_post(conn, path, body)
    per_round = []
    for _ in range(rounds):
        times: dict[str, list[float]] = {}
        inner: list[float] = []
        for _ in range(calls):  # interleaved: each call of the pipeline, then of each step
            for name, path in paths.items():
                elapsed, headers, _ = timed_post(conn, path, body)
                times.setdefault(name, []).append(elapsed)
                if name == "pipeline":
                    inner.append(inside(headers["server-timing"]) / 1000)
        p = {name: p50(values) for name, values in times.items()}
        steps = p["step-a"] + p["step-b"] + p["step-c"]
        per_round.append(
            {
                "p50_ms": p,
                "steps_sum_ms": steps,
                "overhead_ms": p["pipeline"] - steps,
                "inside_ms": p50(inner),
                "p95_pipeline_ms": statistics.quantiles(times["pipeline"], n=20)[18] * 1000,
            }
        )
    summary = {
        key: round(statistics.median(r[key] for r in per_round), 3)
        for key in ("steps_sum_ms", "overhead_ms", "inside_ms", "p95_pipeline_ms")
    }
    summary["pipeline_p50_ms"] = round(
        statistics.median(r["p50_ms"]["pipeline"] for r in per_round), 3
    )
    summary["step_p50_ms"] = round(
        statistics.median(
            statistics.mean(r["p50_ms"][m] for m in ("step-a", "step-b", "step-c"))
            for r in per_round
        ),
        3,
    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "calls_per_round": calls,
        "rounds": per_round,
        "summary": summary,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
