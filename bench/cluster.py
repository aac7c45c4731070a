#!/usr/bin/env python3
"""Proof under load: replicas of the training facility on one PostgreSQL, a GPU cluster, users
submitting bursts of one-GPU jobs, and a replica killed on the way.

    .venv/bin/python bench/cluster.py [--executor ray|local] [--jobs 200] [--job-seconds 2]
        [--gpus 8] [--replicas 2] [--kill-at 0.3] [--out bench/results/cluster.json]

1. A fresh PostgreSQL database (``$MODELPORT_TEST_POSTGRES``'s server, default
   127.0.0.1:5432), migrated once by ``modelport db upgrade``.
2. ``--executor ray``: a local Ray cluster (``ray start --head``, 127.0.0.1) declaring ``--gpus``
   logical GPUs; every replica drives it. ``local``: each replica's own executor with its share
   of the GPUs (``--gpus / --replicas``).
3. ``--replicas`` replica processes, each the platform's training facility as ``modelport up``
   builds it (``jobs.setup.build_job_service``: scheduler, leases, executor), named ``r0``...,
   leases of ``--lease`` seconds. HTTP is left out: submissions are the service's own
   ``enqueue`` (what the jobs API calls after authenticating), timed here.
4. Four users submit bursts of one-GPU jobs of the bench's ``sleeper`` model (it holds its GPU
   for ``--job-seconds`` without using a CPU): user ``u0`` 40 % of the jobs first, then ``u1``,
   ``u2``, ``u3`` 20 % each, a burst every half second.
5. Once ``--kill-at`` of the jobs have finished, replica ``r1`` is killed with SIGKILL while it
   runs jobs (its process group: its trainings die with it); the others take its jobs over.
6. From the database: every job's attempts, its runs (from its code's first report to its next
   status; "marked running" counts from the status itself, which may precede the start), and:
   duplicates and lost jobs, the most GPUs in use at once, each user's share of GPU time while all
   four had jobs queued, the makespan against the ideal (GPU-seconds / GPUs), submit latency,
   and how long after the kill the dead replica's jobs were taken over.

Results: ``--out`` (JSON) and a table on stdout. Medians and ratios; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = REPO / ".venv" / "bin" / "python"
ADMIN = os.environ.get("MODELPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")

REPLICA = """
import sys, time
from modelport.jobs.setup import build_job_service
from modelport.settings import Settings

url, name, executor, address, gpus, lease, artifacts, runtime_env = sys.argv[1:9]
settings = Settings(
    database_url=url, executor=executor, ray_address=address or None,
    executor_gpus=int(gpus), executor_cpus=16, replica_name=name,
    job_lease_seconds=float(lease), artifacts_url=artifacts, migrate="wait",
    ray_job_runtime_env=runtime_env == "1",
)
service = build_job_service(settings)
service.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


#: Ray 2.60 clusters authenticate their drivers: one token for the cluster and the replicas
RAY_TOKEN = uuid.uuid4().hex + uuid.uuid4().hex


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    out.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=RAY_TOKEN)
    out["PYTHONPATH"] = str(BENCH / "models")
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


@contextlib.contextmanager
def database() -> Any:
    name = f"modelport_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def ray_cluster(gpus: int, tmp: Path) -> Any:
    ray = REPO / ".venv" / "bin" / "ray"
    port = 46379
    # Ray 2.60 rewrites --node-ip-address=127.0.0.1 to the host's address (and a driver joining
    # at 127.0.0.1 then looks for it there), so this cluster, shared by the replicas, lives on
    # the host's address: a benchmark's cluster, not a deployment's
    command = [
        str(ray), "start", "--head", f"--port={port}",
        f"--num-gpus={gpus}", "--num-cpus=16", "--include-dashboard=false",
        "--disable-usage-stats", f"--temp-dir={tmp / 'ray'}",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env(), capture_output=True, timeout=180)
    try:
        yield f"{host_address()}:{port}"
    finally:
        stop = [str(ray), "stop", "--force"]
        subprocess.run(stop, env=env(), capture_output=True, timeout=120, check=False)


def host_address() -> str:
    """This host's address on its default route (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return str(probe.getsockname()[0])


def start_replicas(args: argparse.Namespace, url: str, address: str, tmp: Path) -> list[Any]:
    if args.executor == "local":
        gpus = args.gpus // args.replicas
    else:  # a cluster of its own declares them; a shared one was started with them
        gpus = args.gpus if args.own_cluster else 0
    procs = []
    for i in range(args.replicas):
        argv = [str(PY), "-c", REPLICA, url, f"r{i}", args.executor, address, str(gpus)]
        argv += [str(args.lease), str(tmp / "artifacts"), "0" if args.no_runtime_env else "1"]
        procs.append(
            subprocess.Popen(
                argv, env=env(), stdout=subprocess.PIPE, text=True, start_new_session=True
            )
        )
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"a replica did not start (exit {proc.poll()})")
    return procs


def submit_all(args: argparse.Namespace, url: str) -> tuple[list[float], float]:
    """The users' bursts, through a job service of the bench's own (never started: it only
    queues); the latency of each enqueue and when the first one was made."""
    from modelport.jobs.domain import Resources
    from modelport.jobs.setup import build_job_service
    from modelport.settings import Settings

    settings = Settings(
        database_url=url, executor="local", executor_gpus=args.gpus, replica_name="bench"
    )
    service = build_job_service(settings)
    plan = {"u0": 0.4, "u1": 0.2, "u2": 0.2, "u3": 0.2}
    counts = {u: round(args.jobs * share) for u, share in plan.items()}
    counts["u0"] += args.jobs - sum(counts.values())
    bursts: list[tuple[str, int]] = []
    for user, count in counts.items():
        bursts += [(user, min(10, count - k)) for k in range(0, count, 10)]
    bursts.sort(key=lambda b: (int(b[0][1:]) > 0, b[0]))  # u0's burst first, then the others
    latencies: list[float] = []
    first = time.time()
    for index, (user, size) in enumerate(bursts):
        for _ in range(size):
            started = time.perf_counter()
            service.enqueue(
                model="sleeper",
                spec="sleeper",
                args={"seconds": args.job_seconds},
                owner=user,
                resources=Resources(cpu=0.1, gpu=1),
                max_attempts=3,
            )
            latencies.append(time.perf_counter() - started)
        if index < len(bursts) - 1 and index % 4 == 3:
            time.sleep(0.5)
    service.store.engine.dispose()
    return latencies, first


def read_jobs(url: str) -> list[dict[str, Any]]:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        jobs = conn.execute(
            "SELECT id, owner, status, attempts, created_at, lease_owner, error FROM jobs"
        ).fetchall()
        events = conn.execute(
            "SELECT job_id, at, kind, data FROM job_events WHERE kind IN ('status', 'progress') "
            "ORDER BY id"
        ).fetchall()
    by_job: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for job_id, at, kind, data in events:
        value = json.loads(data) if isinstance(data, str) else data
        by_job[job_id].append((at, value["status"] if kind == "status" else "started"))
    out = []
    for job_id, owner, status, attempts, created, lease_owner, error in jobs:
        # a run: from when its code started (its first progress report; a job marked running
        # may wait for its worker) to the next status
        runs, marked = [], []
        timeline = by_job[job_id]
        for i, (at, what) in enumerate(timeline):
            if what != "running":
                continue
            rest = timeline[i + 1 :]
            end = next((t for t, w in rest if w != "started"), None)
            began = next((t for t, w in rest if w == "started" and (end is None or t <= end)), at)
            runs.append((began.timestamp(), end.timestamp() if end else None))
            marked.append((at.timestamp(), end.timestamp() if end else None))
        out.append(
            {
                "id": job_id,
                "owner": owner,
                "status": status,
                "attempts": attempts,
                "created": created.timestamp(),
                "runs": runs,
                "marked": marked,
                "statuses": [w for _, w in timeline if w != "started"],
                "lease_owner": lease_owner,
                "error": error,
            }
        )
    return out


def max_concurrent(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def analyse(args: argparse.Namespace, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [(j["owner"], s, e) for j in jobs for s, e in j["runs"] if e is not None]
    succeeded = [j for j in jobs if j["status"] == "succeeded"]
    lost = [j["id"] for j in jobs if j["status"] != "succeeded"]
    twice = [j["id"] for j in jobs if j["statuses"].count("succeeded") > 1]
    start = min(j["created"] for j in jobs)
    end = max(e for _, _, e in runs)
    # the window while every user still had jobs waiting: up to the first user's last start;
    # from when the last user's first job was queued (strict: what ran then counts, though
    # jobs are not preempted and the first user's started before the others had any queued),
    # or from when every user had a job started (after the first turnover)
    last_start = {u: max(s for o, s, _ in runs if o == u) for u in {o for o, _, _ in runs}}
    window_end = min(last_start.values())
    queued_all = max(min(j["created"] for j in jobs if j["owner"] == u) for u in last_start)
    started_all = max(min(s for o, s, _ in runs if o == u) for u in last_start)
    strict = _shares(runs, queued_all, window_end)
    shares = _shares(runs, started_all, window_end)
    equal = 1 / len(shares)
    ideal = args.jobs * args.job_seconds / args.gpus
    # where the time beyond the ideal goes: from a job marked running to its code's first
    # report (dispatch: Ray's scheduling, the worker and the training's process starting)
    dispatch = sorted(
        r - m for j in jobs for (r, _), (m, _) in zip(j["runs"], j["marked"], strict=True)
    )
    return {
        "jobs": len(jobs),
        "succeeded": len(succeeded),
        "lost": lost,
        "errors": sorted({str(j["error"])[:300] for j in jobs if j["error"]})[:5],
        "succeeded_twice": twice,
        "attempts": dict(sorted(Counter(j["attempts"] for j in jobs).items())),
        "max_gpus_in_use": max_concurrent([(s, e) for _, s, e in runs]),
        "max_jobs_marked_running": max_concurrent(
            [(s, e) for j in jobs for s, e in j["marked"] if e is not None]
        ),
        "fair_window_s": round(window_end - started_all, 2),
        "gpu_time_shares": {u: round(v, 3) for u, v in shares.items()},
        "worst_share_deviation": round(max(abs(v - equal) / equal for v in shares.values()), 3),
        "gpu_time_shares_strict": {u: round(v, 3) for u, v in strict.items()},
        "worst_share_deviation_strict": round(
            max(abs(v - equal) / equal for v in strict.values()), 3
        ),
        "first_code_s": round(min(s for _, s, _ in runs) - start, 2),
        "dispatch_s": {
            "p50": round(statistics.median(dispatch), 3),
            "p95": round(statistics.quantiles(dispatch, n=20)[18], 3),
        },
        "makespan_s": round(end - start, 2),
        "ideal_s": round(ideal, 2),
        "makespan_over_ideal": round((end - start) / ideal, 3),
    }


def _shares(runs: list[tuple[str, float, float]], start: float, end: float) -> dict[str, float]:
    """Each user's share of the GPU time used between ``start`` and ``end``."""
    used: dict[str, float] = defaultdict(float)
    for owner, s, e in runs:
        used[owner] += max(0.0, min(e, end) - max(s, start))
    total = sum(used.values()) or 1.0
    return {u: used[u] / total for u in sorted(used)}


def wait_finished(url: str, total: int, timeout: float, on_progress: Any) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(plain) as conn:
            done = conn.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('succeeded','failed','cancelled')"
            ).fetchone()
        finished = int(done[0]) if done else 0
        on_progress(finished)
        if finished >= total:
            return
        time.sleep(0.25)
    log(f"gave up waiting after {timeout:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executor", choices=["ray", "local"], default="ray")
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--job-seconds", type=float, default=2.0)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--lease", type=float, default=6.0)
    ap.add_argument("--kill-at", type=float, default=0.3, help="fraction finished; 0: no kill")
    ap.add_argument(
        "--no-runtime-env",
        action="store_true",
        help="ray, shared cluster: ray_job_runtime_env=false (tasks take the workers the "
        "cluster's nodes run: they were started from this environment)",
    )
    ap.add_argument(
        "--own-cluster",
        action="store_true",
        help="ray, one replica: the replica starts its own local cluster (its jobs reuse "
        "prestarted workers) instead of joining a shared one",
    )
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "cluster.json")
    args = ap.parse_args()
    if args.own_cluster and (args.executor != "ray" or args.replicas != 1 or args.kill_at):
        ap.error("--own-cluster: --executor ray, --replicas 1 and --kill-at 0")
    result: dict[str, Any] = {"settings": vars(args) | {"out": str(args.out)}}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmpdir, database() as url:
        tmp = Path(tmpdir)
        migrate = [str(PY), "-m", "modelport", "db", "upgrade", "--database-url", url]
        subprocess.run(migrate, check=True, env=env(), capture_output=True)
        with contextlib.ExitStack() as stack:
            address = ""
            if args.executor == "ray" and not args.own_cluster:
                address = stack.enter_context(ray_cluster(args.gpus, tmp))
                log(f"ray cluster at {address}")
            replicas = start_replicas(args, url, address, tmp)
            stack.callback(lambda: [_kill(p) for p in replicas])
            log(f"{args.replicas} replicas ready; submitting {args.jobs} jobs")
            latencies, first = submit_all(args, url)
            result["submit_ms"] = {
                "p50": round(statistics.median(latencies) * 1000, 2),
                "p95": round(statistics.quantiles(latencies, n=20)[18] * 1000, 2),
            }
            killed: dict[str, Any] = {}

            def progress(finished: int) -> None:
                due = args.kill_at and not killed and finished >= args.kill_at * args.jobs
                held = _held_by(url, "r1") if due else set()
                if held:  # killed while it runs jobs: they must be taken over
                    killed["at"] = time.time()
                    killed["held"] = held
                    _kill(replicas[1])
                    log(f"killed r1 holding {len(killed['held'])} running jobs")
                waiting = killed and "recovered_s" not in killed and killed["held"]
                if waiting and not (_held_by(url, "r1") & killed["held"]):
                    killed["recovered_s"] = round(time.time() - killed["at"], 2)
                    log(f"r1's jobs taken over after {killed['recovered_s']} s")

            wait_finished(url, args.jobs, args.timeout, progress)
            result["kill"] = {
                k: (sorted(v) if isinstance(v, set) else v) for k, v in killed.items()
            }
        jobs = read_jobs(url)
        result.update(analyse(args, jobs))
        result["runs"] = sorted(  # every run: owner, start, end (seconds since the first submit)
            [j["owner"], round(s - first, 2), round(e - first, 2) if e else None]
            for j in jobs
            for s, e in j["runs"]
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    shown = {k: v for k, v in result.items() if k not in ("settings", "runs")}
    print(json.dumps(shown, indent=2, default=str))
    return 0


def _held_by(url: str, replica: str) -> set[str]:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        rows = conn.execute(
            "SELECT id FROM jobs WHERE status = 'running' AND lease_owner = %s", (replica,)
        ).fetchall()
    return {r[0] for r in rows}


def _kill(proc: Any) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
