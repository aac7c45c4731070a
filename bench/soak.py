#!/usr/bin/env python3
"""Soak and listing under load: ``modelport up`` answering 100k predictions at c=64, and the
jobs API with 2,000 jobs in the database.

    .venv/bin/python bench/soak.py [--requests 100000] [--connections 64] [--jobs 2000]
        [--out bench/results/soak.json]

1. ``modelport up`` on a fresh data directory (SQLite, the bundled examples), the iris module's
   worker started by a first predict and 5,000 warm-up requests; then wrk (``-t2 -c64``,
   bench/predict.lua) until ``--requests`` predictions have been answered, in 10 s rounds:
   errors (non-2xx, socket errors) and the server tree's RSS (gateway + worker) after the
   warm-up and after each round.
2. ``--jobs`` job records written into that platform's database (queued jobs of the
   ``image-classifier`` pilot, through the job store, as submissions leave them), then
   ``GET /jobs?limit=50`` 300 times, one at a time: p50 and p95; and ``POST /jobs`` 200 times
   (the image classifier, each asking for both CPU slots while one long training holds them, so
   that each waits; that training keeps a core busy meanwhile): p50 and p95 of the submission
   through HTTP, its arguments validated by the module's own worker.

Standard library plus bench/run.py's helpers (wrk parsing, /proc readings); results in
``--out`` and a summary on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = REPO / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
IRIS = "/v2/models/iris/predict/?sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2"

_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None
assert _spec.loader is not None
base = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = base
_spec.loader.exec_module(base)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    answer = conn.getresponse()
    payload = answer.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return answer.status, payload, elapsed


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"modelport up exited with {proc.returncode}")
        try:
            if call(port, "GET", "/health/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("modelport up did not become ready")


def wrk(port: int, seconds: float, connections: int) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["-s", str(BENCH / "predict.lua"), f"http://{HOST}:{port}{IRIS}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    parsed: dict[str, Any] = base.parse_wrk(done.stdout)
    parsed["rc"] = done.returncode
    return parsed


def percentiles(samples: list[float]) -> dict[str, float]:
    cut = statistics.quantiles(samples, n=20)
    return {"p50": round(statistics.median(samples) * 1000, 2), "p95": round(cut[18] * 1000, 2)}


def fill_jobs(data_dir: Path, count: int) -> None:
    """Queued job records, as submissions leave them, written through the job store."""
    from modelport.db import connect
    from modelport.jobs.domain import Job, Resources
    from modelport.jobs.store import JobStore

    store = JobStore(connect(f"sqlite:///{data_dir / 'modelport.db'}"))
    for n in range(count):
        store.create(
            Job(
                model="image-classifier",
                model_spec="image_classifier:ImageClassifier",
                args={"data": "demo", "epochs": 1},
                owner=None,
                resources=Resources(cpu=64),  # never fits: they stay queued
                priority=n % 3,
            )
        )
    store.engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--round-seconds", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "soak.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        data_dir = Path(tmp) / "data"
        port = base.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(MODELPORT_DATA_DIR=str(data_dir), MODELPORT_EXECUTOR_CPUS="2")
        command = [str(PY), "-m", "modelport", "up", "--host", HOST, "--port", str(port)]
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_ready(port, proc)
            status, _, first = call(port, "POST", IRIS)
            log(f"first predict {status} after {first:.2f} s (the worker started)")
            wrk(port, 3, args.connections)  # warm-up (~5-10k requests)
            rss_start = base.tree_rss(proc.pid)[0] / 1024
            rounds, answered = [], 0
            while answered < args.requests:
                out = wrk(port, args.round_seconds, args.connections)
                answered += int(out.get("requests", 0))
                rss = base.tree_rss(proc.pid)[0] / 1024
                rounds.append(
                    {
                        "requests": out.get("requests"),
                        "req_s": out.get("req_s"),
                        "non2xx": out.get("non2xx", 0),
                        "socket_errors": out.get("socket_errors", {}),
                        "p99_ms": out.get("latency_ms", {}).get("99"),
                        "rss_mib": round(rss, 1),
                    }
                )
                log(f"{answered} answered, {out.get('req_s')} req/s, RSS {rss:.1f} MiB")
            errors = sum(int(r["non2xx"] or 0) for r in rounds)
            errors += sum(sum(r["socket_errors"].values()) for r in rounds)
            rss_end = rounds[-1]["rss_mib"]
            result["soak"] = {
                "requests": answered,
                "errors": errors,
                "rss_start_mib": round(rss_start, 1),
                "rss_end_mib": rss_end,
                "rss_growth": round(rss_end / rss_start - 1, 4),
                "rounds": rounds,
            }
            fill_jobs(data_dir, args.jobs)
            listing = [call(port, "GET", "/jobs?limit=50")[2] for _ in range(300)]
            result["list_jobs_ms"] = percentiles(listing) | {"jobs": args.jobs}
            # one long training takes both CPU slots first: the measured submissions queue
            # behind it (it keeps one core busy meanwhile, as a platform under load has)
            blocker = {"model": "image-classifier", "args": {"data": "demo", "epochs": 1000}}
            blocker["resources"] = {"cpu": 2}
            status, payload, _ = call(port, "POST", "/jobs", blocker)
            if status != 201:
                raise SystemExit(f"POST /jobs answered {status}: {payload[:300]!r}")
            submit = {"model": "image-classifier", "args": {"data": "demo", "epochs": 1}}
            submit["resources"] = {"cpu": 2}
            posts = []
            for _ in range(200):
                status, payload, elapsed = call(port, "POST", "/jobs", submit)
                if status != 201:
                    raise SystemExit(f"POST /jobs answered {status}: {payload[:300]!r}")
                posts.append(elapsed)
            result["submit_ms"] = percentiles(posts)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k != "settings"}
    summary["soak"] = {k: v for k, v in result["soak"].items() if k != "rounds"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
