#!/usr/bin/env python3
"""Adaptive batching: one numpy MLP under modelport (batched, unbatched), BentoML and Ray Serve.

    uv venv /tmp/bench-bento && VIRTUAL_ENV=/tmp/bench-bento uv pip install bentoml numpy  # once
    .venv/bin/python bench/batching.py [--rounds 3] [--duration 10] [--warmup 5] [-c 64]
    .venv/bin/python bench/batching.py --hidden 65536   # the wide, compute-bound variant
    .venv/bin/python bench/batching.py --report-only   # tables again from results/batching.json

The model: a 2-layer MLP on 256 floats (256xH ReLU, then Hx8; float64 weights drawn with
``numpy.random.default_rng(0)``; H = ``--hidden``, 256 by default, passed to every server as
``$MLP_HIDDEN``), the same numpy code (bench/models/mlp_core.py) in all four targets:

- ``mp-batched``: ``modelport serve mlp_batched:Mlp`` (``@batch(max_size=64, max_wait_ms=5)``;
  at H = 256 the code of tests/fixtures' ``mp_fixtures.batched:Mlp``);
- ``mp-unbatched``: ``modelport serve mlp_unbatched:Mlp`` (the same class without ``@batch``, one
  1x256 product per request);
- ``bentoml``: ``bentoml serve mlp_bento:Mlp`` from the venv ``--bento-venv`` (BentoML is not in
  modelport's lock), ``@bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=60000)``,
  ``workers=1``, access log off;
- ``ray``: ``bench/models/mlp_ray.py``: a local Ray instance, Serve's HTTP proxy and one replica
  with ``@serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)``, access log off.

modelport and Ray answer ``POST /v2/models/mlp/predict/`` with ``{"x": [256 floats]}``; a batchable
BentoML API takes a batch per request, so its body is ``{"x": [[256 floats]]}`` at ``/predict``.
Every target must answer the harness's own numpy result for that input (to 1e-9) before it is
measured. Each run starts a fresh server tree pinned to CPU 0 (``taskset``; Ray's GCS, raylet,
agents, controller, proxy and replica all inherit it) with ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` = 1, then ``wrk -t1 -c64 --latency`` on
CPU 1 (a 5 s warm-up, one request that waits out what the warm-up left queued, then the
measured run). ``--predict-concurrency N`` sets modelport's ``MODELPORT_PREDICT_CONCURRENCY``
(default 4; a batched model runs its ``@batch(concurrency=1)`` batches one at a time, at most
that many). Rounds interleave the targets, rotating their order. Recorded per run: req/s,
p50, p99, errors, the server tree's and wrk's CPU use, other processes' CPU use (a run where
they used more than ``--max-foreign-cpu`` cores is flagged and rerun), and for modelport
batched the mean batch size from its ``/metrics``.
Medians over clean rounds; results in bench/results/batching.json and .md (``--hidden`` other
than 256: batching-wide.json and .md), server logs and wrk outputs in results/raw/<that name>/.
Before the rounds, the model's in-process cost (``mlp_core.py``: one row vs a batch of 64, on the
server CPU with one BLAS thread) is measured and recorded as ``in_process``.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None
assert _spec.loader is not None
base = importlib.util.module_from_spec(_spec)  # bench/run.py: wrk parsing, /proc helpers
sys.modules["bench_run"] = base
_spec.loader.exec_module(base)
sys.path.insert(0, str(BENCH / "models"))
import mlp_core  # noqa: E402

REPO = BENCH.parent
RESULTS = BENCH / "results"
PY = REPO / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
THREADS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TARGETS = ("mp-batched", "mp-unbatched", "bentoml", "ray")
LABELS = {
    "mp-batched": "modelport, @batch(64, 5 ms)",
    "mp-unbatched": "modelport, unbatched",
    "bentoml": "BentoML, batchable (64)",
    "ray": "Ray Serve, @serve.batch(64, 5 ms)",
}
MP_PATH = "/v2/models/mlp/predict/"
#: a run whose server tree got less CPU than this (of its one core) was starved by other
#: processes, whatever they were: it measured the machine, not the server, and is left out
MIN_SERVER_CORES = 0.9


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def request_input() -> list[float]:
    """The one input every request sends: 256 floats in [-1, 1), 6 decimals, seed 1."""
    rng = random.Random(1)
    return [round(rng.uniform(-1, 1), 6) for _ in range(mlp_core.WIDTH)]


def expected_output(x: list[float], hidden: int) -> list[float]:
    """What the MLP must answer for ``x``, computed here with the targets' numpy code."""
    return mlp_core.forward(*mlp_core.weights(hidden), [x])[0]


def target_request(target: str) -> tuple[str, bytes]:
    """(path, JSON body) of a target's predict."""
    x = request_input()
    if target == "bentoml":
        return "/predict", json.dumps({"x": [x]}, separators=(",", ":")).encode()
    return MP_PATH, json.dumps({"x": x}, separators=(",", ":")).encode()


def answer_rows(target: str, body: bytes) -> list[float] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if target == "bentoml" and isinstance(data, list) and len(data) == 1:
        data = data[0]
    return data if isinstance(data, list) else None


def server_cmd(
    target: str, port: int, args: argparse.Namespace
) -> tuple[list[str], dict[str, str]]:
    if target in ("mp-batched", "mp-unbatched"):
        spec = "mlp_batched:Mlp" if target == "mp-batched" else "mlp_unbatched:Mlp"
        cmd = [str(PY), "-m", "modelport", "serve", spec, "--host", HOST, "--port", str(port)]
        extra = {"PYTHONPATH": str(BENCH / "models")}
        if args.predict_concurrency:
            extra["MODELPORT_PREDICT_CONCURRENCY"] = str(args.predict_concurrency)
        return cmd, extra
    if target == "bentoml":
        bento = str(Path(args.bento_venv) / "bin" / "bentoml")
        cmd = [bento, "serve", "mlp_bento:Mlp", "--host", HOST, "--port", str(port)]
        return cmd, {
            "PYTHONPATH": str(BENCH / "models"),
            "BENTOML_DO_NOT_TRACK": "true",
            "BENTOML_CONFIG_OPTIONS": "services.Mlp.logging.access.enabled=false",
            "BENTOML_HOME": str(Path(tempfile.gettempdir()) / "mpbench-bentoml-home"),
        }
    return [str(PY), str(BENCH / "models" / "mlp_ray.py"), str(port)], {
        "PYTHONPATH": str(BENCH / "models"),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


class Server:
    """One target's server tree in its own session, pinned to a CPU."""

    def __init__(self, target: str, rnd: int, args: argparse.Namespace) -> None:
        self.target = target
        self.port = base.free_port()
        self.log_path = args.raw / f"{target}-r{rnd}.log"
        cmd, extra = server_cmd(target, self.port, args)
        self.cmd = ["taskset", "-c", str(args.server_cpu), *cmd]
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(THREADS_ENV, MLP_HIDDEN=str(args.hidden))
        env.update(extra)
        args.raw.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=BENCH / "models",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def pids(self) -> set[int]:
        return set(base.session_pids(self.proc.pid))

    def stop(self) -> int | None:
        """SIGINT the session leader (Ray's driver shuts Ray down), then SIGKILL what is left."""
        pids = self.pids()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (left := self.alive(pids) | self.pids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return self.proc.returncode

    @staticmethod
    def alive(pids: set[int]) -> set[int]:
        return {p for p in pids if Path(f"/proc/{p}").exists()}

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        return ""


def post(port: int, path: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(srv: Server, want: list[float], timeout: float = 180) -> dict[str, Any]:
    """Poll the predict until a 200 that carries the expected scores."""
    path, body = target_request(srv.target)
    t0 = time.monotonic()
    last: Any = None
    while time.monotonic() - t0 < timeout:
        if srv.proc.poll() is not None:
            return {"ok": False, "error": f"server exited with {srv.proc.returncode}"}
        try:
            status, got = post(srv.port, path, body)
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
            time.sleep(0.05)
            continue
        last = (status, got[:300].decode(errors="replace"))
        rows = answer_rows(srv.target, got) if status == 200 else None
        if rows is not None:
            same = len(rows) == len(want) and all(
                abs(a - b) < 1e-9 for a, b in zip(rows, want, strict=True)
            )
            return {"ok": same, "start_s": round(time.monotonic() - t0, 2), "answer": rows}
        time.sleep(0.05)
    return {"ok": False, "error": f"no 200 within {timeout:.0f} s", "last": last}


def lua_script(target: str, raw: Path) -> Path:
    _, body = target_request(target)
    lua = raw / f"{target}.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = '{body.decode()}'\n"
    )
    return lua


def wrk(
    args: argparse.Namespace, target: str, port: int, duration: float
) -> tuple[int, str, float]:
    """Run wrk on the client CPU; (exit code, output, CPU seconds wrk used)."""
    path, _ = target_request(target)
    cmd = ["taskset", "-c", str(args.client_cpu), "wrk", "-t1", f"-c{args.connections}"]
    cmd += [f"-d{duration:g}s", f"--timeout={args.wrk_timeout:g}s", "--latency"]
    cmd += ["-s", str(lua_script(target, args.raw))]
    cmd.append(f"http://{HOST}:{port}{path}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode, p.stdout + p.stderr, cpu


def drain(srv: Server) -> None:
    """Wait out the requests wrk abandoned when its warm-up ended: one more request, queued
    behind them, answers once the server has worked through them (else the measured run
    starts against a full queue, and modelport refuses what exceeds it with 503s)."""
    path, body = target_request(srv.target)
    with contextlib.suppress(OSError, http.client.HTTPException):
        post(srv.port, path, body, timeout=120)


def batch_metrics(port: int) -> tuple[float, float] | None:
    """(sum, count) of modelport_batch_size for the mlp model, from /metrics."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    found = {}
    for kind in ("sum", "count"):
        m = re.search(rf'^modelport_batch_size_{kind}\{{model="mlp"\}} (\S+)$', text, re.M)
        if m:
            found[kind] = float(m.group(1))
    return (found["sum"], found["count"]) if len(found) == 2 else None


def load_run(args: argparse.Namespace, target: str, rnd: int) -> dict[str, Any]:
    rec: dict[str, Any] = {"target": target, "round": rnd}
    base.wait_quiet(args)
    srv = Server(target, rnd, args)
    rec["cmd"] = srv.cmd
    try:
        ready = wait_ready(srv, args.want)
        rec["ready"] = {k: v for k, v in ready.items() if k != "answer"}
        if not ready["ok"]:
            rec.update(flagged=True, flags=[f"not ready: {ready}"], log_tail=srv.log_tail())
            return rec
        rc_w, _, _ = wrk(args, target, srv.port, args.warmup)
        drain(srv)
        batches0 = batch_metrics(srv.port) if target == "mp-batched" else None
        ours = base.harness_pids() | srv.pids()
        before = base.cpu_snapshot()
        t0 = time.perf_counter()
        rc, out, wrk_cpu = wrk(args, target, srv.port, args.duration)
        elapsed = time.perf_counter() - t0
        after = base.cpu_snapshot()
        ours |= srv.pids()
        foreign, top = base.foreign_cpu(before, after, ours)
        server = [p for p in ours - base.harness_pids() if p in after]
        server_cpu = sum(after[p][0] - before.get(p, (0,))[0] for p in server) / base.CLK_TCK
        (args.raw / f"wrk-{target}-r{rnd}.txt").write_text(out)
        parsed = base.parse_wrk(out)
        rec.update(parsed)
        rec["wrk_output"] = out
        rec["server_cores"] = round(server_cpu / elapsed, 3)
        rec["wrk_cores"] = round(wrk_cpu / elapsed, 3)
        rec["foreign_cores"] = round(foreign / elapsed, 3)
        rec["foreign_top"] = top
        rec["server_processes"] = len(server)
        if batches0 is not None and (batches1 := batch_metrics(srv.port)) is not None:
            calls = batches1[1] - batches0[1]
            rec["mean_batch"] = round((batches1[0] - batches0[0]) / calls, 2) if calls else None
        flags = []
        if rc or rc_w:
            flags.append(f"wrk exited with {rc} (warm-up {rc_w})")
        if "req_s" not in parsed:
            flags.append("could not parse wrk output")
        if parsed.get("non2xx"):
            flags.append(f"{parsed['non2xx']} non-2xx responses")
        if any(parsed.get("socket_errors", {}).values()):
            flags.append(f"socket errors {parsed['socket_errors']}")
        if foreign / elapsed > args.max_foreign_cpu:
            flags.append(f"contended: others used {foreign / elapsed:.2f} cores ({top})")
        if srv.proc.poll() is not None:
            flags.append(f"server died with {srv.proc.returncode}")
        rec["flagged"] = bool(flags)
        rec["flags"] = flags
        rec["contended"] = any(f.startswith("contended") for f in flags)
        if flags:
            rec["log_tail"] = srv.log_tail()
        return rec
    finally:
        rec["server_rc"] = srv.stop()


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for t in TARGETS:
        clean = [
            r
            for r in runs
            if r["target"] == t
            and not r.get("flagged")
            and (r.get("server_cores") or 0) >= MIN_SERVER_CORES
        ]
        per[t] = {
            "n": len(clean),
            **{
                k: med([r[k] for r in clean if r.get(k) is not None])
                for k in (
                    "req_s",
                    "p50_ms",
                    "p99_ms",
                    "server_cores",
                    "wrk_cores",
                    "foreign_cores",
                    "mean_batch",
                )
            },
            "rounds_req_s": [r.get("req_s") for r in clean],
        }
    b, u, bento, ray = (per[t] for t in TARGETS)
    ratios = {
        "batched/unbatched req/s": ratio(b["req_s"], u["req_s"]),
        "batched/unbatched p99": ratio(b["p99_ms"], u["p99_ms"]),
        "modelport/BentoML req/s": ratio(b["req_s"], bento["req_s"]),
        "modelport/Ray Serve req/s": ratio(b["req_s"], ray["req_s"]),
        "modelport/BentoML p99": ratio(b["p99_ms"], bento["p99_ms"]),
        "modelport/Ray Serve p99": ratio(b["p99_ms"], ray["p99_ms"]),
    }
    goals = [
        ("batched req/s >= 4 x unbatched", ratios["batched/unbatched req/s"], 4.0, True),
        ("batched p99 <= unbatched p99", ratios["batched/unbatched p99"], 1.0, False),
        ("batched req/s >= 1.0 x BentoML", ratios["modelport/BentoML req/s"], 1.0, True),
        ("batched req/s >= 1.0 x Ray Serve", ratios["modelport/Ray Serve req/s"], 1.0, True),
    ]
    return {
        "targets": per,
        "ratios": ratios,
        "goals": [
            {"goal": g, "measured": v, "pass": v is not None and (v >= lim if hi else v <= lim)}
            for g, v, lim, hi in goals
        ],
    }


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def markdown(res: dict[str, Any]) -> str:
    s, a = res["summary"], res["settings"]
    hidden = a.get("hidden", mlp_core.DEFAULT_HIDDEN)
    lines = [
        f"MLP 256 x {hidden} x 8 (float64). "
        f"`{res['command']}` — {a['rounds']} rounds x {a['duration']:g} s, wrk -t1 "
        f"-c{a['connections']} on CPU {a['client_cpu']}, each server tree on CPU "
        f"{a['server_cpu']}, numpy threads 1, modelport predict_concurrency "
        f"{a.get('predict_concurrency') or 4}; medians of clean rounds (no errors, "
        f"server tree got >= {MIN_SERVER_CORES} of its core).",
        "",
    ]
    if (cost := res.get("in_process", {})).get("unbatched_us"):
        lines += [
            f"In process (one BLAS thread): predict of 1 row {cost['unbatched_us']:,.0f} us, "
            f"of 64 rows {cost['batch64_us']:,.0f} us = {cost['batch64_per_row_us']:,.0f} us "
            f"per row ({cost['unbatched/per_row']:.1f}x less).",
            "",
        ]
    lines += [
        "| target | req/s | p50 (ms) | p99 (ms) | server CPU (cores) | wrk CPU (cores) "
        "| others' CPU (cores) | mean batch | rounds (req/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        r = s["targets"][t]
        rounds = ", ".join(fmt(x, ",.0f") for x in r["rounds_req_s"])
        n = "" if r["n"] == a["rounds"] else f" (n={r['n']})"
        lines.append(
            f"| {LABELS[t]}{n} | {fmt(r['req_s'], ',.0f')} | {fmt(r['p50_ms'], '.2f')} "
            f"| {fmt(r['p99_ms'], '.2f')} | {fmt(r['server_cores'], '.2f')} "
            f"| {fmt(r['wrk_cores'], '.2f')} | {fmt(r['foreign_cores'], '.2f')} "
            f"| {fmt(r['mean_batch'], '.1f')} | {rounds} |"
        )
    lines += ["", "| ratio (of medians) | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v, '.2f')} |" for k, v in s["ratios"].items()]
    lines += ["", "| goal | measured | |", "|---|---|---|"]
    lines += [
        f"| {g['goal']} | {fmt(g['measured'], '.2f')} | {'PASS' if g['pass'] else 'FAIL'} |"
        for g in s["goals"]
    ]
    return "\n".join(lines) + "\n"


def versions(bento_py: Path) -> dict[str, Any]:
    def probe(py: Path, names: list[str]) -> dict[str, str | None]:
        code = (
            "import importlib.metadata as m, json, sys\n"
            "def v(n):\n"
            "    try: return m.version(n)\n"
            "    except m.PackageNotFoundError: return None\n"
            "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
        )
        cmd = [str(py), "-c", code, *names]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr[-300:]}

    return {
        "modelport_venv": probe(PY, ["modelport", "numpy", "ray", "uvicorn", "starlette"]),
        "bento_venv": probe(bento_py, ["bentoml", "numpy", "uvicorn", "starlette"]),
        "python": sys.version.split()[0],
    }


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    """The model's cost in one process on the server CPU: 1 row vs a batch of 64 (mlp_core.py)."""
    cmd = ["taskset", "-c", str(args.server_cpu), str(PY), str(BENCH / "models" / "mlp_core.py")]
    env = {**os.environ, **THREADS_ENV}
    p = subprocess.run(
        [*cmd, str(args.hidden)], capture_output=True, text=True, env=env, check=False
    )
    return json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr[-300:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    ap.add_argument("--bento-venv", default="/tmp/bench-bento")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--max-foreign-cpu", type=float, default=0.15)
    ap.add_argument("--quiet-window", type=int, default=3)
    ap.add_argument("--quiet-wait", type=float, default=120.0)
    ap.add_argument("--retries", type=int, default=3, help="reruns of a contended run")
    ap.add_argument("--hidden", type=int, default=mlp_core.DEFAULT_HIDDEN, help="MLP width")
    ap.add_argument(
        "--predict-concurrency", type=int, help="modelport's predict_concurrency (default 4)"
    )
    ap.add_argument("--wrk-timeout", type=float, default=2.0, help="wrk --timeout (seconds)")
    ap.add_argument("--out", help="results/batching.json, or batching-wide.json if --hidden")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    wide = args.hidden != mlp_core.DEFAULT_HIDDEN
    out = Path(args.out or RESULTS / ("batching-wide.json" if wide else "batching.json"))
    if args.report_only:
        res = json.loads(out.read_text())
        res["summary"] = summarise(res["runs"])
        return write(res, out)
    targets = [t for t in TARGETS if t in args.only.split(",")]
    res: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/batching.py " + " ".join(sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k != "report_only"},
        "threads_env": THREADS_ENV,
        "in_process": in_process(args),
        "machine": base.machine_info(),
        "src_fingerprint": base.src_fingerprint(),
        "versions": versions(Path(args.bento_venv) / "bin" / "python"),
        "runs": [],
    }
    res["command"] = res["command"].rstrip()
    args.raw = RESULTS / "raw" / out.stem
    args.want = expected_output(request_input(), args.hidden)
    for rnd in range(1, args.rounds + 1):
        order = targets[rnd - 1 :] + targets[: rnd - 1]
        for t in order:
            for attempt in range(args.retries + 1):
                log(f"round {rnd}: {t} (try {attempt + 1})")
                rec = load_run(args, t, rnd)
                rec["attempt"] = attempt + 1
                rec["loadavg"] = os.getloadavg()
                res["runs"].append(rec)
                log(
                    f"  {rec.get('req_s')} req/s p50 {rec.get('p50_ms')} p99 {rec.get('p99_ms')} "
                    f"server {rec.get('server_cores')} wrk {rec.get('wrk_cores')} "
                    f"others {rec.get('foreign_cores')} batch {rec.get('mean_batch')} "
                    f"{rec.get('flags') or ''}"
                )
                if not rec.get("contended"):
                    break
    res["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    res["summary"] = summarise(res["runs"])
    return write(res, out)


def write(res: dict[str, Any], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
