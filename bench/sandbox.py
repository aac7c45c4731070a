#!/usr/bin/env python3
"""What the module sandbox costs: ``modelport up --sandbox bwrap`` vs ``--sandbox none``.

    .venv/bin/python bench/sandbox.py [--rounds 5] [--duration 8]

Per round, interleaved (none, bwrap, none, bwrap ...), each on its own fresh data directory:

1. Cold start: ``modelport up`` is started, the iris example loaded once (its worker fits and
   caches its coefficients in the module's state directory) and the server stopped; then it is
   started again on the same data directory and the first ``POST /v2/models/iris/predict/``
   timed end to end, with the server's ``X-Modelport-Cold-Start`` (worker spawn, sandbox set-up,
   import and warm).
2. Warm predict: ``wrk -t1 -c16 -d<duration>s --latency`` on the same route, the server tree on
   CPU 0 (workers inherit the pin), wrk on CPU 1, after a 2 s warm-up.

Standard library only, plus wrk (``apt-get install wrk``) and bubblewrap. Results:
bench/results/sandbox.json and .md; figures are medians over rounds, and the ratios are what to
compare (2 shared cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
HOST = "127.0.0.1"
PREDICT = (
    "/v2/models/iris/predict/?sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_up(data: Path, sandbox: str, port: int) -> subprocess.Popen[bytes]:
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "modelport", "up"]
    cmd += ["--sandbox", sandbox, "--port", str(port), "--data-dir", str(data)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://{HOST}:{port}/health/ready"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("modelport up did not become ready")


def predict(port: int) -> tuple[float, float | None]:
    started = time.perf_counter()
    request = urllib.request.Request(f"http://{HOST}:{port}{PREDICT}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        cold = response.headers.get("x-modelport-cold-start")
    return time.perf_counter() - started, float(cold) if cold else None


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wrk(port: int, duration: float) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{duration:g}s", "--latency"]
    cmd += ["-s", str(BENCH / "predict.lua"), f"http://{HOST}:{port}{PREDICT}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = {"req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    for label in ("50", "99"):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            result[f"p{label}_ms"] = float(m.group(1)) * scale
    return result


def one_round(sandbox: str, duration: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-sandbox-{sandbox}-") as tmp:
        data = Path(tmp) / "data"
        port = free_port()
        first = start_up(data, sandbox, port)
        try:
            wait_ready(port)
            predict(port)  # fits and caches the coefficients in iris's state directory
        finally:
            stop(first)
        port = free_port()
        server = start_up(data, sandbox, port)
        try:
            wait_ready(port)
            end_to_end, cold = predict(port)
            wrk(port, 2)  # warm-up
            warm = wrk(port, duration)
        finally:
            stop(server)
    return {"first_predict_s": end_to_end, "cold_start_s": cold, **warm}


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows if r.get(key) is not None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, Any]]] = {"none": [], "bwrap": []}
    for round_no in range(args.rounds):
        for sandbox in ("none", "bwrap"):
            row = one_round(sandbox, args.duration)
            rows[sandbox].append(row)
            print(f"round {round_no + 1} {sandbox}: {json.dumps(row)}", file=sys.stderr)
    summary = {
        sandbox: {k: median(r, k) for k in ("first_predict_s", "cold_start_s", "req_s", "p50_ms")}
        for sandbox, r in rows.items()
    }
    summary["bwrap/none"] = {
        "cold_start_delta_ms": 1000
        * (summary["bwrap"]["cold_start_s"] - summary["none"]["cold_start_s"]),
        "req_s_ratio": summary["bwrap"]["req_s"] / summary["none"]["req_s"],
        "p50_ratio": summary["bwrap"]["p50_ms"] / summary["none"]["p50_ms"],
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "sandbox.json").write_text(
        json.dumps({"at": stamp, "rounds": rows, "summary": summary}, indent=2) + "\n"
    )
    lines = [
        f"# Sandbox overhead ({stamp}, {args.rounds} rounds, medians)",
        "",
        "| sandbox | cold start (server) | first predict (client) | warm req/s | p50 |",
        "|---|---|---|---|---|",
    ]
    for sandbox in ("none", "bwrap"):
        s = summary[sandbox]
        cold, first = s["cold_start_s"] * 1000, s["first_predict_s"] * 1000
        warm = f"{s['req_s']:.0f} | {s['p50_ms']:.2f} ms"
        lines.append(f"| {sandbox} | {cold:.0f} ms | {first:.0f} ms | {warm} |")
    ratio = summary["bwrap/none"]
    lines += [
        "",
        f"bwrap vs none: cold start {ratio['cold_start_delta_ms']:+.0f} ms, "
        f"warm throughput x{ratio['req_s_ratio']:.2f}, p50 x{ratio['p50_ratio']:.2f}",
    ]
    (RESULTS / "sandbox.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
