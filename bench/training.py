"""Training-facility benchmarks: predictions while trainings run, and submit → running latency.

    python3 bench/training.py [--rounds 3] [--trainings 2] [--seconds 12]

1. Predict latency while CPU-bound trainings run, against idle, for modelport (M) and
   DEEPaaS 2.6.0 (a) serving the same legacy module (bench/models/trainable_model.py). A
   client sends predicts one after another on one connection (latency, not throughput); the
   servers are not pinned: trainings, server and client share this machine's cores, as they
   would on a 2-core laptop. DEEPaaS runs training and prediction in one process pool
   (workers=1, its default), modelport runs each training in its own process.
2. Submit → running latency of modelport's local executor: ``started_at - created_at`` of
   jobs submitted one at a time (the scheduler is woken on submit), and the client-observed
   time from POST /jobs until GET /jobs/{id} first says running.

Standard library only; reuses bench/run.py's DEEPaaS venv (created by run.py). Results go to
bench/results/training.json and .md. Medians over rounds; ratios, never lone absolute times.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
MODELPORT_PY = ROOT / ".venv" / "bin" / "python"
DEEPAAS_RUN = BENCH / ".venv-deepaas" / "bin" / "deepaas-run"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    port: int, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 60
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    payload = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data


class Server:
    def __init__(self, target: str, data_dir: Path) -> None:
        self.target = target
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(BENCH / "models"), MODELPORT_DATA_DIR=str(data_dir))
        if target == "M":
            cmd = [
                str(MODELPORT_PY),
                "-m",
                "modelport",
                "serve",
                "trainable",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
        else:
            env["DEEPAAS_V2_MODEL"] = "trainable"
            cmd = [str(DEEPAAS_RUN), "--listen-ip", "127.0.0.1", "--listen-port", str(self.port)]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if call(self.port, "GET", "/v2/models/", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{target} did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def predict_latencies(port: int, seconds: float) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn.request(
            "POST",
            "/v2/models/trainable/predict/?x=3",
            body=b"",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"predict answered {response.status}")
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_round(target: str, trainings: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        server = Server(target, Path(data_dir))
        try:
            predict_latencies(server.port, 1.0)  # warm-up
            idle = predict_latencies(server.port, 5.0)
            for _ in range(trainings):
                status, _ = call(
                    server.port, "POST", f"/v2/models/trainable/train/?seconds={seconds}"
                )
                assert status == 200, status
            time.sleep(1.0)  # the trainings are running
            busy = predict_latencies(server.port, seconds - 3.0)
        finally:
            server.stop()
    return {
        "target": target,
        "idle": {"n": len(idle), "p50_ms": pct(idle, 0.5) * 1e3, "p99_ms": pct(idle, 0.99) * 1e3},
        "busy": {
            "n": len(busy),
            "p50_ms": pct(busy, 0.5) * 1e3,
            "p99_ms": pct(busy, 0.99) * 1e3,
            "max_ms": max(busy) * 1e3,
        },
    }


def submit_round(jobs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        server = Server("M", Path(data_dir))
        try:
            server_side, client_side = [], []
            for _ in range(jobs):
                started = time.perf_counter()
                status, job = call(
                    server.port, "POST", "/jobs", {"model": "trainable", "args": {"seconds": 0.05}}
                )
                assert status == 201, (status, job)
                while True:
                    _, seen = call(server.port, "GET", f"/jobs/{job['id']}")
                    if seen["status"] != "queued":
                        client_side.append(time.perf_counter() - started)
                        break
                    time.sleep(0.002)
                while seen["status"] not in ("succeeded", "failed", "cancelled"):
                    time.sleep(0.05)
                    _, seen = call(server.port, "GET", f"/jobs/{job['id']}")
                created = datetime.fromisoformat(seen["created_at"])
                begun = datetime.fromisoformat(seen["started_at"])
                server_side.append((begun - created).total_seconds())
        finally:
            server.stop()
    return {
        "jobs": jobs,
        "server_p50_ms": statistics.median(server_side) * 1e3,
        "server_p95_ms": pct(server_side, 0.95) * 1e3,
        "client_p50_ms": statistics.median(client_side) * 1e3,
        "client_p95_ms": pct(client_side, 0.95) * 1e3,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trainings", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each training")
    ap.add_argument("--jobs", type=int, default=20, help="jobs per submit-latency round")
    ap.add_argument("--only", default="M,a")
    args = ap.parse_args()
    targets = args.only.split(",")
    if "a" in targets and not DEEPAAS_RUN.exists():
        print(
            "bench/.venv-deepaas is missing: run `python3 bench/run.py --only a` once",
            file=sys.stderr,
        )
        return 2
    rounds: list[dict[str, Any]] = []
    for rnd in range(args.rounds):
        for target in targets:
            result = latency_round(target, args.trainings, args.seconds)
            result["round"] = rnd + 1
            rounds.append(result)
            print(json.dumps(result), flush=True)
    submits = [submit_round(args.jobs) for _ in range(args.rounds)] if "M" in targets else []
    for s in submits:
        print(json.dumps(s), flush=True)

    def med(target: str, phase: str, key: str) -> float:
        return statistics.median(r[phase][key] for r in rounds if r["target"] == target)

    header = [
        "target",
        "idle p50 (ms)",
        "idle p99 (ms)",
        "busy p50 (ms)",
        "busy p99 (ms)",
        "busy max (ms)",
        "busy p99 / idle p99",
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for target in targets:
        row = {
            k: med(target, p, k2)
            for k, (p, k2) in {
                "idle_p50": ("idle", "p50_ms"),
                "idle_p99": ("idle", "p99_ms"),
                "busy_p50": ("busy", "p50_ms"),
                "busy_p99": ("busy", "p99_ms"),
                "busy_max": ("busy", "max_ms"),
            }.items()
        }
        row["ratio"] = row["busy_p99"] / row["idle_p99"]
        summary[target] = row
        name = {"M": "M modelport", "a": "a DEEPaaS 2.6.0"}[target]
        lines.append(
            f"| {name} | {row['idle_p50']:.2f} | {row['idle_p99']:.2f} | {row['busy_p50']:.2f} "
            f"| {row['busy_p99']:.2f} | {row['busy_max']:.1f} | {row['ratio']:.2f} |"
        )
    if "M" in summary and "a" in summary:
        factor = summary["a"]["busy_p99"] / summary["M"]["busy_p99"]
        lines += ["", f"busy p99: DEEPaaS / modelport = {factor:.0f}x"]
    if submits:

        def med_of(key: str) -> float:
            return statistics.median(s[key] for s in submits)

        lines += [
            "",
            "| submit → running (modelport local executor) | p50 (ms) | p95 (ms) |",
            "|---|---|---|",
            f"| server: started_at - created_at | {med_of('server_p50_ms'):.1f} "
            f"| {med_of('server_p95_ms'):.1f} |",
            f"| client: POST /jobs → GET says running | {med_of('client_p50_ms'):.1f} "
            f"| {med_of('client_p95_ms'):.1f} |",
        ]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training.json").write_text(
        json.dumps(
            {"args": vars(args), "rounds": rounds, "submits": submits, "summary": summary}, indent=2
        )
    )
    (RESULTS / "training.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
