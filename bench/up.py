#!/usr/bin/env python3
"""Platform benchmarks: ``modelport up`` (catalog modules served on demand) vs ``modelport serve``.

    .venv/bin/python bench/up.py [--rounds 3] [--launches 5] [--duration 10]

(Not ``platform.py``: a script named like a standard-library module shadows it for every other
script run from ``bench/``; pydantic imports ``platform``.)

1. Cold start: ``modelport up`` with a fresh data dir that already holds the iris coefficient
   cache; Popen -> ``/health/ready``, then the first ``POST /v2/models/iris/predict/?...`` end
   to end and the server's ``X-Modelport-Cold-Start`` header. Reference, interleaved:
   ``modelport serve iris`` Popen -> first 200 predict (what bench/run.py calls startup). Once
   each without the cache (sklearn fit included).
2. Warm throughput of the same model through ``up`` (gateway + worker process) and ``serve``
   (in-process): wrk -t1 -c16 -d10s --latency, server tree on CPU 0 (the ``up`` worker inherits
   the pin), wrk on CPU 1, rounds interleaved (up, serve, up, serve ...), a warm-up request that
   loads the model and a 2 s wrk warm-up first. Two models: iris (well under a millisecond) and
   ``burn`` (generated at run time in a temp dir: ~2 ms of CPU per predict, measured with
   ``time.thread_time``), published into ``up``'s catalog with the Python API and served by
   ``modelport serve mp_platform_burn:Burn``.
3. Memory: 50 modules published (iris metadata and load spec under 50 names), ``up`` idle, then
   after one predict on each of 5 of them (5 workers): VmRSS summed over the server and its
   descendants, per process; ``serve iris`` idle for reference.

Runs with ``.venv/bin/python`` (it imports modelport to publish into the catalogs); otherwise
the standard library, and bench/run.py's helpers (wrk parsing, /proc readings). Results:
bench/results/platform.json and .md. Figures are medians over rounds; compare ratios.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shadows the standard library's ``platform`` for anything that imports it while
# bench/ is on sys.path (the script's own dir is sys.path[0]): take bench/ off first.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None
assert _spec.loader is not None
base = importlib.util.module_from_spec(_spec)  # bench/run.py: wrk parsing, /proc helpers
sys.modules["bench_run"] = base  # its dataclasses look their module up
_spec.loader.exec_module(base)

REPO = BENCH.parent
RESULTS = BENCH / "results"
RAW = RESULTS / "raw" / "platform"
PY = REPO / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
LUA = BENCH / "predict.lua"
IRIS_QUERY = "sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2"
IRIS_META = REPO / "src" / "modelport" / "examples" / "iris.ai4-metadata.yml"
IRIS_SPEC = "modelport.examples.iris:IrisClassifier"
IRIS_CACHE = "iris-logreg-v1.json"
BURN_MODULE = "mp_platform_burn"
BURN_SOURCE = '''"""Benchmark model: burns ``ms`` milliseconds of this thread's CPU per predict."""

import time

from modelport import Field, Model


class Burn(Model):
    """Burns CPU for a fixed time per prediction (a stand-in for a real model's work)."""

    name = "burn"
    version = "1.0.0"

    def predict(self, ms: float = Field(2.0, ge=0, le=100)) -> dict[str, float]:
        """Busy-loop until this thread has used ``ms`` ms of CPU."""
        end = time.thread_time() + ms / 1000
        n = 0
        while time.thread_time() < end:
            n += 1
        return {"ms": ms, "loops": float(n)}
'''

#: --allow-bytecode: servers may read and write __pycache__ even if this shell forbids it
OPTIONS = {"allow_bytecode": False}

MODELS = {
    "iris": {"path": f"/v2/models/iris/predict/?{IRIS_QUERY}", "serve": "iris"},
    "burn": {"path": "/v2/models/burn/predict/?ms=2", "serve": f"{BURN_MODULE}:Burn"},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --------------------------------------------------------------------------- data dirs


def publish(data_dir: Path, entries: list[tuple[str, str]]) -> None:
    """Publish (name, load_spec) modules, version 1.0.0, iris's metadata, into data_dir."""
    from modelport.catalog.files import load_metadata
    from modelport.catalog.setup import build_catalog_service
    from modelport.settings import Settings

    service = build_catalog_service(Settings(data_dir=data_dir))
    meta = load_metadata(IRIS_META)
    for name, spec in entries:
        m = meta if spec == IRIS_SPEC else meta.model_copy(update={"title": f"Benchmark {name}"})
        service.registry.publish(
            name,
            "1.0.0",
            m,
            load_spec=spec,
            package="modelport" if spec == IRIS_SPEC else None,
            published_by="bench",
        )
    service.registry.engine.dispose()


class Workspace:
    """A fresh run directory: data dir (MODELPORT_DATA_DIR) and XDG_DATA_HOME.

    The iris example caches its coefficients under ``$MODELPORT_DATA_DIR`` or, when that is
    unset, the XDG data dir; ``up``'s workers get their module's own state directory as
    ``MODELPORT_DATA_DIR`` (``<data>/state/<module>``). All of them get the cache (or none), so
    ``up`` and ``serve`` start alike.
    """

    def __init__(
        self, root: Path, tag: str, cache: Path | None, modules: Sequence[str] = ("iris",)
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=root))
        self.data = self.dir / "data"
        self.xdg = self.dir / "xdg"
        self.data.mkdir()
        self.xdg.mkdir()
        if cache is not None:
            states = [self.data / "state" / name / "examples" for name in modules]
            for d in (self.data / "examples", self.xdg / "modelport" / "examples", *states):
                d.mkdir(parents=True)
                shutil.copy(cache, d / IRIS_CACHE)

    def env(self, extra_path: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        env.pop("VIRTUAL_ENV", None)
        if OPTIONS["allow_bytecode"]:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            MODELPORT_DATA_DIR=str(self.data),
            XDG_DATA_HOME=str(self.xdg),
            PYTHONPATH=extra_path,
            TMPDIR=str(self.dir),
        )
        return env

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- servers


class Server:
    """``modelport up`` or ``modelport serve <model>``, optionally pinned, in its own session."""

    def __init__(
        self,
        kind: str,
        model: str,
        ws: Workspace,
        cpu: int | None,
        log_name: str,
        extra_path: str,
        profile: Path | None = None,
    ) -> None:
        self.kind, self.ws = kind, ws
        self.port = base.free_port()
        py = [str(PY)]
        if profile is not None:
            py += ["-m", "cProfile", "-o", str(profile)]
        cmd = [*py, "-m", "modelport"]
        if kind == "up":
            cmd += ["up", "--host", HOST, "--port", str(self.port)]
        else:
            cmd += ["serve", MODELS[model]["serve"], "--host", HOST, "--port", str(self.port)]
        self.cmd = (["taskset", "-c", str(cpu)] if cpu is not None else []) + cmd
        RAW.mkdir(parents=True, exist_ok=True)
        self.log_path = RAW / f"{log_name}.log"
        logf = self.log_path.open("wb")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=REPO,
            env=ws.env(extra_path),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()

    def tree(self) -> list[int]:
        return base.session_pids(self.proc.pid)

    def stop(self) -> int | None:
        pids = self.tree()  # workers run in their own sessions: remember them by parentage
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.05)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if base.proc_stat(p) is not None:  # still there (or a zombie)
                    os.kill(p, signal.SIGKILL)
        return self.proc.returncode

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        return ""


def http_call(port: int, method: str, path: str, timeout: float = 120) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        conn.request(method, path, body=b"" if method == "POST" else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_for(srv: Server, method: str, path: str, timeout: float = 90) -> dict[str, Any]:
    """Poll (1 ms between refused connects) until ``method path`` answers 200."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return {"ok": False, "error": f"exited with {srv.proc.returncode}", "last": last}
        try:
            status, headers, body = http_call(srv.port, method, path)
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            time.sleep(0.001)
            continue
        except OSError as exc:
            last = repr(exc)
            time.sleep(0.001)
            continue
        last = {"status": status, "body": body[:500].decode(errors="replace")}
        if status == 200:
            return {
                "ok": True,
                "s": time.perf_counter() - srv.t0,
                "headers": headers,
                "body": body[:500].decode(errors="replace"),
            }
        time.sleep(0.005)
    return {"ok": False, "error": f"no 200 within {timeout:g} s", "last": last}


def timed(port: int, method: str, path: str) -> dict[str, Any]:
    t = time.perf_counter()
    status, headers, body = http_call(port, method, path)
    return {
        "status": status,
        "s": time.perf_counter() - t,
        "headers": headers,
        "body": body[:300].decode(errors="replace"),
    }


def rss(srv: Server) -> dict[str, Any]:
    total, procs = base.tree_rss(srv.proc.pid)
    for p in procs:
        p["rss_mib"] = round(p["rss_kib"] / 1024, 1)
        p["role"] = (
            "server"
            if p["pid"] == srv.proc.pid
            else ("worker" if "apps.worker" in p["cmd"] else "other")
        )
    return {"total_mib": round(total / 1024, 1), "processes": procs}


def worker_module(cmd: str) -> str:
    """The module a worker serves, from its (truncated) command line's --config JSON."""
    m = re.search(r'--config \{"module": "([^"]+)"', cmd)
    return m.group(1) if m else "?"


# --------------------------------------------------------------------------- phases


def make_cache(root: Path, extra_path: str) -> tuple[Path, float]:
    """Fit iris once (sklearn) in a scratch data dir; return the cache file and the seconds."""
    ws = Workspace(root, "cache", None)
    t = time.perf_counter()
    subprocess.run(
        [str(PY), "-c", "from modelport.examples.iris import IrisClassifier as C; C().warm()"],
        env=ws.env(extra_path),
        check=True,
        cwd=REPO,
    )
    elapsed = time.perf_counter() - t
    cache = ws.data / "examples" / IRIS_CACHE
    keep = root / IRIS_CACHE
    shutil.copy(cache, keep)
    ws.remove()
    return keep, elapsed


def cold_up(root: Path, cache: Path | None, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    ws = Workspace(root, tag, cache)
    before = base.cpu_snapshot()
    srv = Server("up", "iris", ws, args.server_cpu, tag, args.extra_path)
    rec: dict[str, Any] = {"target": "up", "cache": cache is not None, "load_before": loadavg()}
    try:
        ready = wait_for(srv, "GET", "/health/ready")
        if not ready["ok"]:
            rec.update(ok=False, error=ready, log=srv.log_tail())
            return rec
        rec["ready_s"] = ready["s"]
        first = timed(srv.port, "POST", MODELS["iris"]["path"])
        rec["first_request_s"] = first["s"]
        rec["first_status"] = first["status"]
        rec["popen_to_first_200_s"] = time.perf_counter() - srv.t0
        hdr = first["headers"].get("x-modelport-cold-start")
        rec["cold_start_header_s"] = float(hdr) if hdr else None
        rec["server_timing"] = first["headers"].get("server-timing")
        second = timed(srv.port, "POST", MODELS["iris"]["path"])
        rec["second_request_s"] = second["s"]
        rec["ok"] = first["status"] == 200 and second["status"] == 200
        if not rec["ok"]:
            rec["body"] = first["body"]
            rec["log"] = srv.log_tail()
        used, _ = base.foreign_cpu(
            before, base.cpu_snapshot(), base.harness_pids() | set(srv.tree())
        )
        rec["foreign_cores"] = round(used / rec["popen_to_first_200_s"], 3)
        rec["worker_log"] = [
            ln for ln in srv.log_tail().splitlines() if "warm in" in ln or "loaded iris" in ln
        ]
        return rec
    finally:
        rec["rc"] = srv.stop()
        ws.remove()


def cold_serve(
    root: Path, cache: Path | None, args: argparse.Namespace, tag: str
) -> dict[str, Any]:
    ws = Workspace(root, tag, cache)
    before = base.cpu_snapshot()
    srv = Server("serve", "iris", ws, args.server_cpu, tag, args.extra_path)
    rec: dict[str, Any] = {"target": "serve", "cache": cache is not None, "load_before": loadavg()}
    try:
        first = wait_for(srv, "POST", MODELS["iris"]["path"])
        rec["ok"] = first["ok"]
        if not first["ok"]:
            rec.update(error=first, log=srv.log_tail())
            return rec
        rec["popen_to_first_200_s"] = first["s"]
        second = timed(srv.port, "POST", MODELS["iris"]["path"])
        rec["second_request_s"] = second["s"]
        used, _ = base.foreign_cpu(
            before, base.cpu_snapshot(), base.harness_pids() | set(srv.tree())
        )
        rec["foreign_cores"] = round(used / first["s"], 3)
        time.sleep(args.rss_delay)
        rec["idle_rss"] = rss(srv)
        return rec
    finally:
        rec["rc"] = srv.stop()
        ws.remove()


def wrk(args: argparse.Namespace, port: int, path: str, duration: float) -> tuple[int, str]:
    cmd = [
        "taskset",
        "-c",
        str(args.client_cpu),
        "wrk",
        "-t1",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://{HOST}:{port}{path}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    return p.returncode, p.stdout + p.stderr


def load_run(
    root: Path,
    cache: Path,
    args: argparse.Namespace,
    target: str,
    model: str,
    rnd: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    ws = Workspace(root, f"load-{model}-{target}-r{rnd}", cache)
    if model == "burn" and target == "up":
        publish(ws.data, [("burn", f"{BURN_MODULE}:Burn")])
    tag = f"load-{model}-{target}-r{rnd}" + ("-profile" if profile else "")
    srv = Server(target, model, ws, args.server_cpu, tag, args.extra_path, profile=profile)
    path = MODELS[model]["path"]
    rec: dict[str, Any] = {"target": target, "model": model, "round": rnd, "flags": []}
    try:
        if target == "up":
            ready = wait_for(srv, "GET", "/health/ready")
            if not ready["ok"]:
                rec["flags"].append(f"not ready: {ready}")
                rec["log"] = srv.log_tail()
                return rec
        first = wait_for(srv, "POST", path)  # loads the model (up: starts its worker)
        rec["first_body"] = first.get("body")
        if not first["ok"]:
            rec["flags"].append(f"no 200: {first}")
            rec["log"] = srv.log_tail()
            return rec
        rc_w, _ = wrk(args, srv.port, path, args.warmup)
        tree = srv.tree()
        rec["pinning"] = {p["pid"]: p["cpus_allowed"] for p in base.tree_rss(srv.proc.pid)[1]}
        rec["processes"] = len(tree)
        rec["load_before"] = loadavg()
        before = base.cpu_snapshot()
        t = time.perf_counter()
        rc, out = wrk(args, srv.port, path, args.duration)
        elapsed = time.perf_counter() - t
        after = base.cpu_snapshot()
        rec["load_after"] = loadavg()
        ours = base.harness_pids() | set(tree)
        used, top = base.foreign_cpu(before, after, ours)
        rec["foreign_cores"] = round(used / elapsed, 3)
        rec["foreign_top"] = top
        per = {
            p: (after[p][0] - before.get(p, (0,))[0]) / base.CLK_TCK / elapsed
            for p in tree
            if p in after
        }
        rec["server_cpu_cores"] = round(sum(per.values()), 3)
        rec["cpu_by_process"] = {
            ("gateway" if p == srv.proc.pid or target == "serve" else "worker"): round(v, 3)
            for p, v in per.items()
            if v > 0.005
        }
        parsed = base.parse_wrk(out)
        rec.update(parsed)
        rec["wrk_output"] = out
        rec["rss_after_load"] = rss(srv)["total_mib"]
        if rc or rc_w:
            rec["flags"].append(f"wrk rc {rc} (warmup {rc_w})")
        if "req_s" not in parsed:
            rec["flags"].append("no wrk result")
        if parsed.get("non2xx"):
            rec["flags"].append(f"{parsed['non2xx']} non-2xx")
        if any(parsed.get("socket_errors", {}).values()):
            rec["flags"].append(f"socket errors {parsed['socket_errors']}")
        if srv.proc.poll() is not None:
            rec["flags"].append("server died")
        rec["contended"] = rec["foreign_cores"] > args.max_foreign_cpu
        if rec["flags"]:
            rec["log"] = srv.log_tail()
        return rec
    finally:
        rec["rc"] = srv.stop()
        ws.remove()


def memory_run(root: Path, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    names = [f"iris-{i:02d}" for i in range(1, args.modules + 1)]
    ws = Workspace(root, "memory", cache, names)
    t = time.perf_counter()
    publish(ws.data, [(n, IRIS_SPEC) for n in names])
    rec: dict[str, Any] = {"modules": len(names), "publish_s": round(time.perf_counter() - t, 2)}
    srv = Server("up", "iris", ws, args.server_cpu, "memory-up", args.extra_path)
    try:
        ready = wait_for(srv, "GET", "/health/ready")
        if not ready["ok"]:
            rec.update(ok=False, error=ready, log=srv.log_tail())
            return rec
        status, _, body = http_call(srv.port, "GET", "/v2/models/")
        rec["listed_models"] = len(json.loads(body)["models"]) if status == 200 else status
        time.sleep(args.rss_delay)
        rec["idle"] = rss(srv)
        calls = []
        for n in names[: args.loaded]:
            r = timed(srv.port, "POST", f"/v2/models/{n}/predict/?{IRIS_QUERY}")
            calls.append(
                {
                    "module": n,
                    "status": r["status"],
                    "s": round(r["s"], 3),
                    "cold_start": r["headers"].get("x-modelport-cold-start"),
                }
            )
        rec["calls"] = calls
        time.sleep(args.rss_delay)
        loaded = rss(srv)
        for p in loaded["processes"]:
            if p["role"] == "worker":
                p["module"] = worker_module(p["cmd"])
        rec["loaded"] = loaded
        workers = [p["rss_mib"] for p in loaded["processes"] if p["role"] == "worker"]
        gw = [p["rss_mib"] for p in loaded["processes"] if p["pid"] == srv.proc.pid]
        rec["workers"] = len(workers)
        rec["worker_rss_mib"] = workers
        rec["worker_rss_median_mib"] = statistics.median(workers) if workers else None
        rec["gateway_rss_mib"] = gw[0] if gw else None
        rec["ok"] = all(c["status"] == 200 for c in calls) and len(workers) == args.loaded
        return rec
    finally:
        rec["rc"] = srv.stop()
        ws.remove()


# --------------------------------------------------------------------------- report


def med(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(v: float | None, fmt: str) -> str:
    return fmt.format(v) if v is not None else "-"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def cpu_us(run: dict[str, Any], part: str | None = None) -> float | None:
    """Server CPU microseconds per request in a wrk run (one process kind, or all)."""
    if not run.get("req_s"):
        return None
    cores = run.get("server_cpu_cores") if part is None else run["cpu_by_process"].get(part)
    return cores * 1e6 / run["req_s"] if cores is not None else None


def summarise(res: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    s: dict[str, Any] = {}
    cold = res["cold"]
    ups = [r for r in cold if r["target"] == "up" and r.get("ok") and r["cache"]]
    serves = [r for r in cold if r["target"] == "serve" and r.get("ok") and r["cache"]]
    s["cold"] = {
        "up_ready_s": med([r["ready_s"] for r in ups]),
        "up_first_request_s": med([r["first_request_s"] for r in ups]),
        "up_cold_start_header_s": med([r["cold_start_header_s"] for r in ups]),
        "up_popen_to_first_200_s": med([r["popen_to_first_200_s"] for r in ups]),
        "up_second_request_ms": med([r["second_request_s"] * 1000 for r in ups]),
        "serve_popen_to_first_200_s": med([r["popen_to_first_200_s"] for r in serves]),
        "launches": [len(ups), len(serves)],
    }
    s["cold"]["ratio_first_request_up_vs_serve_startup"] = ratio(
        s["cold"]["up_first_request_s"], s["cold"]["serve_popen_to_first_200_s"]
    )
    nc = {r["target"]: r for r in cold if not r["cache"] and r.get("ok")}
    if nc:
        s["cold_no_cache"] = {
            "up_first_request_s": nc.get("up", {}).get("first_request_s"),
            "up_cold_start_header_s": nc.get("up", {}).get("cold_start_header_s"),
            "serve_popen_to_first_200_s": nc.get("serve", {}).get("popen_to_first_200_s"),
        }
    s["load"] = {}
    for model in args.models:
        row: dict[str, Any] = {}
        for t in ("up", "serve"):
            runs = [r for r in res["load"] if r["target"] == t and r["model"] == model]
            good = [r for r in runs if not r["flags"] and "req_s" in r]
            row[t] = {
                "req_s": med([r["req_s"] for r in good]),
                "p50_ms": med([r.get("p50_ms") for r in good]),
                "p99_ms": med([r.get("p99_ms") for r in good]),
                "server_cpu_cores": med([r.get("server_cpu_cores") for r in good]),
                # CPU time of the server tree per request: what contention cannot change
                "cpu_us_per_req": med([cpu_us(r) for r in good]),
                "gateway_cpu_us_per_req": med([cpu_us(r, "gateway") for r in good]),
                "worker_cpu_us_per_req": med([cpu_us(r, "worker") for r in good]),
                "runs": len(runs),
                "clean": len(good),
                "contended": sum(1 for r in good if r.get("contended")),
                "req_s_all": [r["req_s"] for r in good],
            }
        row["ratio_req_s_up_serve"] = ratio(row["up"]["req_s"], row["serve"]["req_s"])
        # each round's up/serve pair ran back to back: their ratio cancels slow load drifts
        pairs = []
        for rnd in sorted({r["round"] for r in res["load"] if r["model"] == model}):
            got = {
                t: [
                    r["req_s"]
                    for r in res["load"]
                    if r["model"] == model and r["round"] == rnd and r["target"] == t
                    if not r["flags"] and "req_s" in r
                ]
                for t in ("up", "serve")
            }
            if got["up"] and got["serve"]:
                pairs.append(got["up"][-1] / got["serve"][-1])
        row["ratio_req_s_per_round"] = [round(x, 3) for x in pairs]
        row["ratio_req_s_paired_median"] = med(pairs)
        row["ratio_cpu_per_req_serve_up"] = ratio(
            row["serve"]["cpu_us_per_req"], row["up"]["cpu_us_per_req"]
        )
        row["ratio_p50_up_serve"] = ratio(row["up"]["p50_ms"], row["serve"]["p50_ms"])
        row["ratio_p99_up_serve"] = ratio(row["up"]["p99_ms"], row["serve"]["p99_ms"])
        row["goal_loss_le_10pct"] = (
            None if row["ratio_req_s_up_serve"] is None else row["ratio_req_s_up_serve"] >= 0.9
        )
        s["load"][model] = row
    mem = res.get("memory")
    if mem and mem.get("ok"):
        serve_idle = med([r["idle_rss"]["total_mib"] for r in serves if r.get("idle_rss")])
        s["memory"] = {
            "modules": mem["modules"],
            "loaded": mem["workers"],
            "up_idle_total_mib": mem["idle"]["total_mib"],
            "up_5_loaded_total_mib": mem["loaded"]["total_mib"],
            "gateway_mib_after": mem["gateway_rss_mib"],
            "worker_median_mib": mem["worker_rss_median_mib"],
            "workers_mib": mem["worker_rss_mib"],
            "serve_iris_idle_mib": serve_idle,
        }
        s["memory"]["ratio_worker_vs_serve"] = ratio(mem["worker_rss_median_mib"], serve_idle)
    return s


def markdown(s: dict[str, Any], res: dict[str, Any]) -> str:
    c = s["cold"]
    L = [
        "### Cold start (iris, coefficient cache present)",
        "",
        f"| measure (median of {c['launches'][0]} launches) | `up` | `serve iris` |",
        "|---|---|---|",
        f"| Popen -> `/health/ready` 200 (s) | {f(c['up_ready_s'], '{:.3f}')} | - |",
        f"| first predict, end to end (s) | {f(c['up_first_request_s'], '{:.3f}')} | - |",
        f"| `X-Modelport-Cold-Start` (s) | {f(c['up_cold_start_header_s'], '{:.3f}')} | - |",
        f"| Popen -> first 200 predict (s) | {f(c['up_popen_to_first_200_s'], '{:.3f}')} | "
        f"{f(c['serve_popen_to_first_200_s'], '{:.3f}')} |",
        f"| second predict (ms) | {f(c['up_second_request_ms'], '{:.1f}')} | - |",
        "",
    ]
    if "cold_no_cache" in s:
        n = s["cold_no_cache"]
        L += [
            f"Without the cache (once, sklearn fit included): `up` first predict "
            f"{f(n['up_first_request_s'], '{:.3f}')} s (header "
            f"{f(n['up_cold_start_header_s'], '{:.3f}')} s); `serve iris` Popen -> first 200 "
            f"{f(n['serve_popen_to_first_200_s'], '{:.3f}')} s.",
            "",
        ]
    L += [
        "### Warm throughput (wrk -t1 -c16, server tree on CPU 0, wrk on CPU 1)",
        "",
        "| model | target | req/s | p50 (ms) | p99 (ms) | server CPU (cores) "
        "| server CPU per request (µs): total (gateway + worker) | clean runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, row in s["load"].items():
        for t in ("up", "serve"):
            r = row[t]
            L.append(
                f"| {model} | `{t}` | {f(r['req_s'], '{:,.0f}')} | "
                f"{f(r['p50_ms'], '{:.2f}')} | {f(r['p99_ms'], '{:.2f}')} | "
                f"{f(r['server_cpu_cores'], '{:.2f}')} | {f(r['cpu_us_per_req'], '{:.0f}')}"
                + (
                    f" ({f(r['gateway_cpu_us_per_req'], '{:.0f}')} + "
                    f"{f(r['worker_cpu_us_per_req'], '{:.0f}')})"
                    if t == "up"
                    else ""
                )
                + f" | {r['clean']}/{r['runs']} |"
            )
    L += [
        "",
        "| model | req/s up/serve (ratio of medians) | per-round ratios (median) "
        "| CPU per request serve/up | p50 up/serve | p99 up/serve | goal: loss <= 10 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, row in s["load"].items():
        g = {True: "PASS", False: "FAIL", None: "n/a"}[row["goal_loss_le_10pct"]]
        L.append(
            f"| {model} | {f(row['ratio_req_s_up_serve'], '{:.3f}')} | "
            f"{', '.join(f'{x:.2f}' for x in row['ratio_req_s_per_round'])} "
            f"({f(row['ratio_req_s_paired_median'], '{:.3f}')}) | "
            f"{f(row['ratio_cpu_per_req_serve_up'], '{:.3f}')} | "
            f"{f(row['ratio_p50_up_serve'], '{:.2f}')} | "
            f"{f(row['ratio_p99_up_serve'], '{:.2f}')} | {g} |"
        )
    if "memory" in s:
        m = s["memory"]
        L += [
            "",
            f"### Memory ({m['modules']} modules published)",
            "",
            "| measure | MiB |",
            "|---|---|",
            f"| `up` idle, nothing loaded (one process) | {m['up_idle_total_mib']:.1f} |",
            f"| `up` with {m['loaded']} modules loaded (gateway + {m['loaded']} workers) | "
            f"{m['up_5_loaded_total_mib']:.1f} |",
            f"| gateway alone, after | {f(m['gateway_mib_after'], '{:.1f}')} |",
            f"| per worker (median; all: {', '.join(f'{w:.1f}' for w in m['workers_mib'])}) | "
            f"{f(m['worker_median_mib'], '{:.1f}')} |",
            f"| `serve iris` idle (one model in-process, median) | "
            f"{f(m['serve_iris_idle_mib'], '{:.1f}')} |",
        ]
    la = res["load_average"]
    L += [
        "",
        f"Load average (1 min) at start {la['start'][0]:.2f}, end {la['end'][0]:.2f}; "
        f"during the wrk runs median {f(la['wrk_median'], '{:.2f}')}, max "
        f"{f(la['wrk_max'], '{:.2f}')} (2 vCPUs; shared with other sessions' test suites). "
        f"Other processes' CPU during the measured wrk runs: median "
        f"{f(la['foreign_cores_median'], '{:.2f}')} cores, max "
        f"{f(la['foreign_cores_max'], '{:.2f}')}.",
    ]
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description="modelport up vs serve: cold start, load, memory")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--models", default="iris,burn")
    ap.add_argument("--modules", type=int, default=50)
    ap.add_argument("--loaded", type=int, default=5)
    ap.add_argument("--rss-delay", type=float, default=2.0)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument(
        "--max-foreign-cpu",
        type=float,
        default=0.25,
        help="cores others may use during a wrk run before it is rerun once",
    )
    ap.add_argument(
        "--retries", type=int, default=0, help="reruns of a contended wrk run (default: none)"
    )
    ap.add_argument("--skip", default="", help="comma-separated: cold,load,memory")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also one `up` iris run under cProfile (gateway process)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "platform.json")
    ap.add_argument(
        "--allow-bytecode",
        action="store_true",
        help="unset PYTHONDONTWRITEBYTECODE for the servers (else every start compiles every "
        "imported module from source when the shell sets it)",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="recompute the summary and table of an existing --out JSON; measure nothing",
    )
    args = ap.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    if args.report_only:
        res = json.loads(args.out.read_text())
        args.models = res["settings"]["models"]
        return write(res, args)
    skip = set(args.skip.split(","))
    OPTIONS["allow_bytecode"] = args.allow_bytecode
    os.sched_setaffinity(0, {args.client_cpu})

    root = Path(tempfile.mkdtemp(prefix="mp-platform-"))
    burn_dir = root / "pkg"
    burn_dir.mkdir()
    (burn_dir / f"{BURN_MODULE}.py").write_text(BURN_SOURCE)
    args.extra_path = str(burn_dir)
    res: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": base.machine_info(),
        "modelport_src_sha256": base.src_fingerprint(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "extra_path")},
        "load_average": {"start": loadavg()},
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "cold": [],
        "load": [],
    }
    try:
        cache, fit_s = make_cache(root, args.extra_path)
        res["iris_fit_s"] = round(fit_s, 2)
        log(f"iris coefficients fitted in {fit_s:.2f} s (cache for the runs)")
        if "cold" not in skip:
            for i in range(1, args.launches + 1):
                for fn in (cold_up, cold_serve):
                    r = fn(root, cache, args, f"cold-{fn.__name__[5:]}-{i}")
                    r["launch"] = i
                    res["cold"].append(r)
                    log(
                        f"[cold] {r['target']} {i}: ok={r.get('ok')} "
                        f"first200={r.get('popen_to_first_200_s', 0):.3f} s "
                        f"first_req={r.get('first_request_s', 0):.3f} s "
                        f"hdr={r.get('cold_start_header_s')}"
                    )
            for fn in (cold_up, cold_serve):
                r = fn(root, None, args, f"cold-{fn.__name__[5:]}-nocache")
                res["cold"].append(r)
                log(
                    f"[cold, no cache] {r['target']}: first200="
                    f"{r.get('popen_to_first_200_s', 0):.3f} s hdr={r.get('cold_start_header_s')}"
                )
        if "load" not in skip:
            for model in args.models:
                for rnd in range(1, args.rounds + 1):
                    for t in ("up", "serve"):
                        for attempt in range(args.retries + 1):
                            r = load_run(root, cache, args, t, model, rnd)
                            r["attempt"] = attempt
                            res["load"].append(r)
                            log(
                                f"[load] {model} {t} r{rnd}: {r.get('req_s')} req/s p50 "
                                f"{r.get('p50_ms')} p99 {r.get('p99_ms')} ms, server "
                                f"{r.get('server_cpu_cores')} cores {r.get('cpu_by_process')}, "
                                f"others {r.get('foreign_cores')} cores {r['flags'] or ''}"
                            )
                            if not r.get("contended") or attempt == args.retries:
                                break
                            r["flags"].append("contended (rerun)")
        if "memory" not in skip:
            res["memory"] = memory_run(root, cache, args)
            m = res["memory"]
            log(
                f"[memory] idle {m.get('idle', {}).get('total_mib')} MiB, 5 loaded "
                f"{m.get('loaded', {}).get('total_mib')} MiB, workers {m.get('worker_rss_mib')}"
            )
        if args.profile:
            prof = RAW / "up-gateway.prof"
            r = load_run(root, cache, args, "up", "iris", 0, profile=prof)
            res["profile"] = {"req_s": r.get("req_s"), "file": str(prof.relative_to(REPO))}
            if prof.exists():
                import io
                import pstats

                buf = io.StringIO()
                pstats.Stats(str(prof), stream=buf).sort_stats("tottime").print_stats(25)
                res["profile"]["top_tottime"] = buf.getvalue()[-6000:]
                buf = io.StringIO()
                pstats.Stats(str(prof), stream=buf).sort_stats("cumulative").print_stats(40)
                res["profile"]["top_cumulative"] = buf.getvalue()[-8000:]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["load_average"]["end"] = loadavg()
    wl = [r["load_after"][0] for r in res["load"] if "load_after" in r]
    fc = [r["foreign_cores"] for r in res["load"] if "foreign_cores" in r]
    res["load_average"].update(
        wrk_median=med(wl),
        wrk_max=max(wl) if wl else None,
        foreign_cores_median=med(fc),
        foreign_cores_max=max(fc) if fc else None,
    )
    res["modelport_src_sha256_after"] = base.src_fingerprint()
    return write(res, args)


def write(res: dict[str, Any], args: argparse.Namespace) -> int:
    res["summary"] = summarise(res, args)
    md = markdown(res["summary"], res)
    if res["modelport_src_sha256_after"] != res["modelport_src_sha256"]:
        md += "\n**Note:** `src/` changed during the run (other work landed meanwhile).\n"
    res["table_md"] = md
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
