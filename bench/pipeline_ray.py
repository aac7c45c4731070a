#!/usr/bin/env python3
"""What a composition costs over its steps in Ray Serve: the peer of ``bench/pipeline.py``.

    .venv/bin/python bench/pipeline_ray.py [--calls 2000] [--rounds 3]

A local Ray instance started here (``ray.init(address="local", _node_ip_address="127.0.0.1",
include_dashboard=False, num_cpus=2)``, its temp dir a fresh one), Serve's HTTP proxy on
127.0.0.1 and a free port, and four applications, one replica per deployment, access log off
(``modelport up`` logs no access either):

- ``step-a``, ``step-b``, ``step-c`` (``/step-a``...): the deployments ``StepA``, ``StepB``,
  ``StepC``, each adding 1 to ``x``: ``POST`` ``{"x": 1}`` answers ``{"x": 2}``;
- ``chain`` (``/chain``): Ray Serve's model composition, as its docs show it: an ingress
  deployment ``Chain`` bound with three *separate* step deployments (the chain app's own
  ``StepA``, ``StepB``, ``StepC``), which it holds as ``DeploymentHandle`` s and calls one after
  another, ``await handle.add.remote(x)``: ``{"x": 1}`` answers ``{"x": 4}``.

Every deployment takes HTTP the simplest documented way: ``__call__(self, request)`` with a
``starlette.requests.Request``, returning a dict (Serve writes it as JSON). A keep-alive
``http.client`` connection calls, one at a time (c=1), interleaved call by call: the chain, then
each step app directly, with the same JSON body; 200 warm-up calls per path first. Reported,
medians over rounds of each round's p50:

- ``overhead_ms`` = p50(chain) - (p50(a) + p50(b) + p50(c)): what a composition costs over
  calling its steps one after another from the client. Negative means the composition is
  cheaper: it saves two client round trips, for three handle calls between replicas;
- ``chain_p50_ms``, ``step_p50_ms`` (the mean of the three steps' p50s), ``steps_sum_ms``,
  ``p95_chain_ms``.

Ray Serve sends no ``Server-Timing``, so there is no ``inside_ms`` here. The client runs in the
Ray driver's process. Afterwards ``serve.shutdown()``, ``ray.shutdown()``, and every process Ray
started here (this process's descendants, and those marked by an environment variable they
inherit, with theirs) is waited for, then killed by pid if still there; ``ray stop --force``
only if one survives that and no other Ray runs on the machine (it would stop that one too).

Results: bench/results/pipeline_ray.json. Needs only the standard library and ``ray[serve]``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from platform_kit import HOST, REPO, free_port, p50, timed_post
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request

MARK = "MP_BENCH_PIPELINE_RAY"  # inherited by the processes Ray starts here (see ray_processes)
STEPS = ("step-a", "step-b", "step-c")
OPTIONS: dict[str, Any] = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0}}
NO_ACCESS_LOG = {"enable_access_log": False}


@serve.deployment(**OPTIONS)
class Step:
    """Add one (a pipeline benchmark's step): over HTTP, and to a handle's ``add``."""

    def add(self, x: int) -> dict[str, int]:
        return {"x": x + 1}

    async def __call__(self, request: Request) -> dict[str, int]:
        body = await request.json()
        return self.add(body["x"])


StepA = Step.options(name="StepA")
StepB = Step.options(name="StepB")
StepC = Step.options(name="StepC")


@serve.deployment(**OPTIONS)
class Chain:
    """a -> b -> c through deployment handles: Ray Serve's model composition."""

    def __init__(self, a: DeploymentHandle, b: DeploymentHandle, c: DeploymentHandle) -> None:
        self.a, self.b, self.c = a, b, c

    async def __call__(self, request: Request) -> dict[str, int]:
        body = await request.json()
        out_a = await self.a.add.remote(body["x"])
        out_b = await self.b.add.remote(out_a["x"])
        return await self.c.add.remote(out_b["x"])  # type: ignore[no-any-return]


def processes() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent, state, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[0], fields[19])
    return table


def ray_processes(token: str, known: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """This run's live Ray processes as (pid, start time): ``known`` ones, this process's
    descendants, those that inherited ``MARK`` and their descendants (Ray's agents rewrite
    their environment with their process title, so the mark alone misses some)."""
    table = processes()
    me = os.getpid()
    roots = {me} | {pid for pid, start in known if pid in table and table[pid][2] == start}
    for pid in table:
        with contextlib.suppress(OSError):
            environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
            if f"{MARK}={token}".encode() in environ:
                roots.add(pid)
    found = set(roots)
    while True:
        more = {pid for pid, (parent, _, _) in table.items() if parent in found} - found
        if not more:
            break
        found |= more
    return {(pid, table[pid][2]) for pid in found - {me} if table[pid][1] != "Z"}


def other_ray_running(ours: set[tuple[int, str]]) -> bool:
    """Whether a Ray process of someone else's runs on this machine."""
    skip = {pid for pid, _ in ours} | {os.getpid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"raylet" in args or b"gcs_server" in args or args.startswith(b"ray::"):
                return True
    return False


def reap(token: str, known: set[tuple[int, str]]) -> None:
    """Wait for this run's Ray processes to end; kill what is left, by pid."""
    deadline = time.monotonic() + 15
    while ray_processes(token, known) and time.monotonic() < deadline:
        time.sleep(0.5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = ray_processes(token, known)
        if not left:
            return
        pids = sorted(pid for pid, _ in left)
        print(f"killing {len(pids)} Ray processes left ({sig.name}): {pids}", file=sys.stderr)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        time.sleep(2)
    left = ray_processes(token, known)
    if left and not other_ray_running(left):
        print(f"still left: {sorted(left)}; ray stop --force", file=sys.stderr)
        ray_cli = Path(sys.executable).with_name("ray")
        subprocess.run([str(ray_cli), "stop", "--force"], check=False)
    elif left:
        print(f"still left: {sorted(left)}; other Ray runs here, not stopping it", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    token = uuid.uuid4().hex
    os.environ[MARK] = token
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    temp_dir = tempfile.mkdtemp(prefix="mp-ray-")  # short: Ray's sockets live under it
    port = free_port()
    known: set[tuple[int, str]] = set()
    try:
        ray.init(
            address="local",  # never join a cluster that someone else started here
            _node_ip_address=HOST,
            include_dashboard=False,
            num_cpus=2,
            log_to_driver=False,
            _temp_dir=temp_dir,
        )
        serve.start(http_options={"host": HOST, "port": port}, logging_config=NO_ACCESS_LOG)
        for name, step in zip(STEPS, (StepA, StepB, StepC), strict=True):
            serve.run(step.bind(), name=name, route_prefix=f"/{name}", logging_config=NO_ACCESS_LOG)
        chain = Chain.bind(StepA.bind(), StepB.bind(), StepC.bind())
        serve.run(chain, name="chain", route_prefix="/chain", logging_config=NO_ACCESS_LOG)
        result = run(port, args.calls, args.rounds)
    finally:
        known = ray_processes(token, known)  # before shutdown: while their parents live
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()
        reap(token, known)
        shutil.rmtree(temp_dir, ignore_errors=True)
    result["ray"] = ray.__version__
    out = REPO / "bench" / "results" / "pipeline_ray.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


def run(port: int, calls: int, rounds: int) -> dict[str, Any]:
    body = json.dumps({"x": 1}).encode()
    paths = {"chain": "/chain", **{m: f"/{m}" for m in STEPS}}
    expected = {"chain": {"x": 4}, **{m: {"x": 2} for m in STEPS}}
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    deadline = time.monotonic() + 60
    for name, path in paths.items():  # every route answers, and answers right
        while True:
            try:
                answer = json.loads(timed_post(conn, path, body)[2])
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                conn.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        if answer != expected[name]:
            raise RuntimeError(f"{path}: {answer} (expected {expected[name]})")
    for path in paths.values():  # warm: replicas, handles and routers ready
        for _ in range(200):
            timed_post(conn, path, body)
    per_round = []
    for _ in range(rounds):
        times: dict[str, list[float]] = {}
        for _ in range(calls):  # interleaved: each call of the chain, then of each step
            for name, path in paths.items():
                times.setdefault(name, []).append(timed_post(conn, path, body)[0])
        p = {name: p50(values) for name, values in times.items()}
        steps = sum(p[m] for m in STEPS)
        per_round.append(
            {
                "p50_ms": p,
                "steps_sum_ms": steps,
                "overhead_ms": p["chain"] - steps,
                "p95_chain_ms": statistics.quantiles(times["chain"], n=20)[18] * 1000,
            }
        )
    summary = {
        key: round(statistics.median(r[key] for r in per_round), 3)
        for key in ("steps_sum_ms", "overhead_ms", "p95_chain_ms")
    }
    summary["chain_p50_ms"] = round(statistics.median(r["p50_ms"]["chain"] for r in per_round), 3)
    summary["step_p50_ms"] = round(
        statistics.median(statistics.mean(r["p50_ms"][m] for m in STEPS) for r in per_round), 3
    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "calls_per_round": calls,
        "rounds": per_round,
        "summary": summary,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    main()
