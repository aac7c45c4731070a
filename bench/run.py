#!/usr/bin/env python3
"""modelport benchmark: modelport (M) vs DEEPaaS 2.6.0 (a) vs a bare FastAPI app (b).

One entry point, standard library only (run it with any Python >= 3.11):

    python3 bench/run.py [--rounds 3] [--duration 10] [--only M,a,b]

It creates the DEEPaaS venv (bench/.venv-deepaas) if needed, checks that the
benchmark models are visible through the ``deepaas.v2.model`` entry points in
both venvs, then for every target:

* load: per scenario (``predict``, ``upload``) and round, a fresh server pinned to
  CPU 0, one sanity request, a 2 s wrk warmup and a measured wrk run pinned to
  CPU 1 (``wrk -t1 -c16 -d10s --latency``); targets interleaved M, a, b, M, a, b ...
* startup: 5 launches per target (interleaved), time from ``Popen`` to the first
  200 predict, and idle RSS (VmRSS summed over the server and all its children)
  2 s after that first answer, before any load.

Writes bench/results/latest.json (+ latest.md) and prints a Markdown table of
medians and the ratios M/a, M/b, b/a. Runs with errors (non-2xx responses, socket
errors, failed start) are flagged and left out of the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MODELS = BENCH / "models"
RESULTS = BENCH / "results"
RAW = RESULTS / "raw"
DEEPAAS_VENV = BENCH / ".venv-deepaas"
DEEPAAS_VERSION = "2.6.0"
MODELPORT_PY = REPO / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
EP_GROUP = "deepaas.v2.model"

TARGET_ORDER = ("M", "a", "b")
TARGET_LABELS = {
    "M": "modelport",
    "a": f"DEEPaaS {DEEPAAS_VERSION}",
    "b": "bare FastAPI",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    model: str  # entry-point name the server is started with
    lua: Path
    query: str
    content_type: str
    body: bytes
    expected: dict[str, int]

    @property
    def path(self) -> str:
        return f"/v2/models/{self.model}/predict/?{self.query}"


def _lua_string(lua: Path, var: str) -> str:
    """Evaluate the (simple) Lua string expression assigned to ``var`` in a wrk script.

    The sanity request sent before each run is built from the same script wrk
    uses, so both send byte-identical requests.
    """
    text = lua.read_text()
    consts = dict(re.findall(r'^local (\w+) = "([^"]*)"', text, re.M))
    m = re.search(rf"^{re.escape(var)} = (.*?)(?=^\S|\Z)", text, re.M | re.S)
    if not m:
        raise ValueError(f"{lua}: no assignment to {var}")
    out = []
    for tok in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\w+)', m.group(1)):
        if tok.group(1) is not None:
            s = tok.group(1)
            s = s.replace("\\r", "\r").replace("\\n", "\n").replace('\\"', '"')
            out.append(s.replace("\\\\", "\\"))
        else:
            out.append(consts[tok.group(2)])
    return "".join(out)


def make_scenarios() -> dict[str, Scenario]:
    p_lua, u_lua = BENCH / "predict.lua", BENCH / "upload.lua"
    return {
        "predict": Scenario(
            "predict",
            "trivial",
            p_lua,
            "x=3",
            _lua_string(p_lua, 'wrk.headers["Content-Type"]'),
            _lua_string(p_lua, "wrk.body").encode(),
            {"y": 6},
        ),
        "upload": Scenario(
            "upload",
            "trivial-upload",
            u_lua,
            "x=3",
            _lua_string(u_lua, 'wrk.headers["Content-Type"]'),
            _lua_string(u_lua, "wrk.body").encode(),
            {"size": 5, "y": 6},
        ),
    }


# --------------------------------------------------------------------------- targets


def server_cmd(target: str, model: str, port: int) -> tuple[list[str], dict[str, str]]:
    """Command line and extra environment of one server (without the taskset prefix)."""
    if target == "M":
        cmd = [
            str(MODELPORT_PY),
            "-m",
            "modelport",
            "serve",
            model,
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        return cmd, {}
    if target == "a":
        cmd = [
            str(DEEPAAS_VENV / "bin" / "deepaas-run"),
            "--listen-ip",
            HOST,
            "--listen-port",
            str(port),
        ]
        return cmd, {"DEEPAAS_V2_MODEL": model}
    if target == "b":
        cmd = [
            str(MODELPORT_PY),
            str(BENCH / "bare_fastapi.py"),
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        return cmd, {}
    raise ValueError(target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    target: str
    model: str
    cpu: int
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tmpdir: str = ""
    t_popen: float = 0.0
    cmd: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        cmd, extra = server_cmd(self.target, self.model, self.port)
        self.cmd = ["taskset", "-c", str(self.cpu), *cmd]
        # Each server gets its own TMPDIR: DEEPaaS 2.6 never deletes upload temp
        # files, and the directory is removed when the server stops.
        self.tmpdir = tempfile.mkdtemp(prefix=f"mpbench-{self.target}-")
        env = dict(os.environ)
        env.update(extra)
        env["PYTHONPATH"] = str(MODELS)
        env["TMPDIR"] = self.tmpdir
        env.pop("VIRTUAL_ENV", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.t_popen = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def stop(self) -> int | None:
        """Ctrl-C the server's process group (it runs in its own session), then SIGKILL.

        SIGINT, like Ctrl-C in a terminal: DEEPaaS 2.6 hangs on SIGTERM (its pool
        workers are non-daemonic), uvicorn handles both.
        """
        rc = None
        if self.proc is not None:
            pgid = self.proc.pid
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGINT)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            # Children left behind in the group (e.g. pool workers) go too.
            deadline = time.monotonic() + 5
            while session_pids(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if session_pids(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            rc = self.proc.returncode
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return rc

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------- probes


def request(port: int, sc: Scenario, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", sc.path, body=sc.body, headers={"Content-Type": sc.content_type})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_first_200(srv: Server, sc: Scenario, timeout: float = 60.0) -> dict[str, Any]:
    """Poll as fast as possible until the server answers the predict with a 200."""
    assert srv.proc is not None
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {"status": None, "body": ""}
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return {"ok": False, "error": f"server exited with code {srv.proc.returncode}", **last}
        try:
            status, body = request(srv.port, sc)
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            time.sleep(0.001)
            continue
        except OSError as exc:
            last = {"status": None, "body": repr(exc)}
            time.sleep(0.001)
            continue
        last = {"status": status, "body": body[:2000].decode(errors="replace")}
        if status == 200:
            return {"ok": True, "elapsed_s": time.perf_counter() - srv.t_popen, **last}
        time.sleep(0.001)
    return {"ok": False, "error": f"no 200 within {timeout:.0f} s", **last}


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, session id) of a process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[1]), int(rest[3])


def session_pids(root: int) -> list[int]:
    """The root process, its descendants, and anything else in its session."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st:
                stats[int(entry)] = st
    found = {p for p, (_, sid) in stats.items() if sid == root}
    if root in stats:
        found.add(root)
    changed = True
    while changed:
        changed = False
        for p, (ppid, _) in stats.items():
            if ppid in found and p not in found:
                found.add(p)
                changed = True
    return sorted(found)


def tree_rss(root: int) -> tuple[int, list[dict[str, Any]]]:
    """Sum of VmRSS (KiB) over the server process tree, and the per-process breakdown."""
    total, procs = 0, []
    for pid in session_pids(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        rss = int(m.group(1)) if m else 0
        total += rss
        cpus = re.search(r"^Cpus_allowed_list:\s+(\S+)", status, re.M)
        procs.append(
            {
                "pid": pid,
                "rss_kib": rss,
                "cpus_allowed": cpus.group(1) if cpus else None,
                "cmd": cmdline.decode(errors="replace").strip()[:200],
            }
        )
    return total, procs


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[int, tuple[int, int, str]]:
    """pid -> (CPU ticks incl. reaped children, ppid, comm) for every process."""
    snap = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = data[data.index("(") + 1 : data.rindex(")")]
        f = data[data.rindex(")") + 2 :].split()
        # fields after comm: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
        snap[int(entry)] = (sum(int(x) for x in f[11:15]), int(f[1]), comm)
    return snap


def foreign_cpu(
    before: dict[int, tuple[int, int, str]],
    after: dict[int, tuple[int, int, str]],
    ours: set[int],
) -> tuple[float, list[tuple[str, float]]]:
    """CPU seconds used between two snapshots by processes that are not part of the run.

    Ours: the harness (and so wrk, its reaped child) and the server's process tree.
    Kernel threads are left out: they mostly do this run's own loopback and disk work.
    """
    total, per = 0, {}
    for pid, (ticks, ppid, comm) in after.items():
        if pid in ours or pid == 2 or ppid == 2:
            continue
        prev = before.get(pid)
        d = ticks - (prev[0] if prev else 0)
        if d > 0:
            total += d
            per[comm] = per.get(comm, 0) + d
    top = sorted(((c, t / CLK_TCK) for c, t in per.items()), key=lambda x: -x[1])[:5]
    return total / CLK_TCK, top


def harness_pids() -> set[int]:
    return {os.getpid(), os.getppid()}


def wait_quiet(args: argparse.Namespace) -> dict[str, Any]:
    """Wait (up to --quiet-wait s) until other processes have used < --max-foreign-cpu of a
    core for --quiet-window consecutive seconds."""
    t0 = time.monotonic()
    warned = False
    quiet_for = 0
    while True:
        before = cpu_snapshot()
        time.sleep(1.0)
        used, top = foreign_cpu(before, cpu_snapshot(), harness_pids())
        waited = time.monotonic() - t0
        quiet_for = quiet_for + 1 if used <= args.max_foreign_cpu else 0
        if quiet_for >= args.quiet_window:
            return {"waited_s": round(waited, 1), "foreign_cores": round(used, 3)}
        if used > args.max_foreign_cpu and waited > args.quiet_wait:
            log(f"    machine still busy after {waited:.0f} s ({used:.2f} cores: {top}); going on")
            return {"waited_s": round(waited, 1), "foreign_cores": round(used, 3), "busy": top}
        if used > args.max_foreign_cpu and not warned:
            log(f"    waiting for the machine to be quiet (others use {used:.2f} cores: {top})")
            warned = True


# --------------------------------------------------------------------------- wrk

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        res["req_s"] = float(m.group(1))
    if m := re.search(r"^\s+50%\s+(\S+)", out, re.M):
        res["p50_ms"] = _ms(m.group(1))
    if m := re.search(r"^\s+99%\s+(\S+)", out, re.M):
        res["p99_ms"] = _ms(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
        if m
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    return res


def run_wrk(args: argparse.Namespace, sc: Scenario, port: int, duration: float) -> tuple[int, str]:
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
        str(sc.lua),
        f"http://{HOST}:{port}{sc.path}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    return p.returncode, p.stdout + p.stderr


# --------------------------------------------------------------------------- setup


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_deepaas_venv() -> None:
    py = DEEPAAS_VENV / "bin" / "python"
    if py.exists():
        probe = subprocess.run(
            [str(py), "-c", "import importlib.metadata as m; print(m.version('deepaas'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == DEEPAAS_VERSION:
            return
        log(f"{DEEPAAS_VENV} is not a DEEPaaS {DEEPAAS_VERSION} venv; recreating it")
        shutil.rmtree(DEEPAAS_VENV)
    log(f"creating {DEEPAAS_VENV} with deepaas=={DEEPAAS_VERSION} ...")
    subprocess.run([sys.executable, "-m", "venv", str(DEEPAAS_VENV)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"deepaas=={DEEPAAS_VERSION}"], check=True
    )


def check_entry_points(python: Path) -> dict[str, Any]:
    code = (
        "import importlib.metadata as m, json\n"
        f"eps = m.entry_points(group={EP_GROUP!r})\n"
        "print(json.dumps({e.name: e.value for e in eps}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(MODELS))
    p = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if p.returncode != 0:
        return {"ok": False, "error": p.stderr[-2000:]}
    eps = json.loads(p.stdout)
    ok = eps.get("trivial") == "trivial_model" and eps.get("trivial-upload") == "trivial_upload"
    return {"ok": ok, "entry_points": eps}


def versions(python: Path, names: list[str]) -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    p = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr[-500:]}


def modelport_preflight() -> dict[str, Any]:
    p = subprocess.run(
        [str(MODELPORT_PY), "-m", "modelport", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    return {
        "cmd": f"{MODELPORT_PY} -m modelport serve --help",
        "rc": p.returncode,
        "output_tail": (p.stdout + p.stderr)[-3000:],
    }


def fs_type(path: str) -> str:
    """Filesystem type (and mount options) of the mount holding path."""
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mnt, fstype, opts, *_ = line.split()
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, f"{fstype} on {mnt}, {opts}"
    return kind


def src_fingerprint() -> str:
    """Hash of modelport's sources (the repo may have no commit yet, and src/ may change)."""
    digest = hashlib.sha256()
    for f in sorted((REPO / "src").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            digest.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "wrk": (wrk.stdout + wrk.stderr).splitlines()[0] if (wrk.stdout + wrk.stderr) else "",
        "git_commit": git.stdout.strip() or None,
    }


# --------------------------------------------------------------------------- phases


def load_run(args: argparse.Namespace, target: str, sc: Scenario, rnd: int) -> dict[str, Any]:
    srv = Server(target, sc.model, args.server_cpu, RAW / f"load-{sc.name}-{target}-r{rnd}.log")
    rec: dict[str, Any] = {"scenario": sc.name, "target": target, "round": rnd}
    try:
        srv.start()
        rec["cmd"] = srv.cmd
        first = wait_first_200(srv, sc)
        rec["first_response"] = first
        if not first["ok"]:
            rec.update(
                flagged=True,
                flags=["server never answered 200: " + first["error"]],
                server_log_tail=srv.log_tail(),
            )
            return rec
        try:
            body = json.loads(first["body"])
        except ValueError:
            body = None
        flags = []
        if body != sc.expected:
            flags.append(f"unexpected body {first['body'][:200]!r} (want {sc.expected})")
        rc_w, _ = run_wrk(args, sc, srv.port, args.warmup)
        assert srv.proc is not None
        before = cpu_snapshot()
        t0 = time.perf_counter()
        rc, out = run_wrk(args, sc, srv.port, args.duration)
        elapsed = time.perf_counter() - t0
        after = cpu_snapshot()
        ours = harness_pids() | set(session_pids(srv.proc.pid))
        used, top = foreign_cpu(before, after, ours)
        rec["foreign_cores"] = round(used / elapsed, 3)
        rec["foreign_top"] = top
        rec["server_cpu_cores"] = round(
            sum(
                after[p][0] - before.get(p, (0,))[0]
                for p in ours
                if p in after and p not in harness_pids()
            )
            / CLK_TCK
            / elapsed,
            3,
        )
        if used / elapsed > args.max_foreign_cpu:
            flags.append(
                f"contended: other processes used {used / elapsed:.2f} cores during the run ({top})"
            )
        (RAW / f"wrk-{sc.name}-{target}-r{rnd}.txt").write_text(out)
        parsed = parse_wrk(out)
        rec.update(parsed)
        rec["wrk_rc"] = rc
        rec["wrk_output"] = out
        rss, _ = tree_rss(srv.proc.pid) if srv.proc else (0, [])
        rec["rss_after_load_kib"] = rss
        if rc != 0 or rc_w != 0:
            flags.append(f"wrk exited with {rc} (warmup {rc_w})")
        if "req_s" not in parsed:
            flags.append("could not parse wrk output")
        if parsed.get("non2xx"):
            flags.append(f"{parsed['non2xx']} non-2xx/3xx responses")
        if any(parsed["socket_errors"].values()):
            flags.append(f"socket errors {parsed['socket_errors']}")
        if srv.proc is not None and srv.proc.poll() is not None:
            flags.append(f"server died with code {srv.proc.returncode}")
        if flags:
            # Show what an error response looks like.
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, b = request(srv.port, sc)
                rec["probe_after"] = {"status": status, "body": b[:2000].decode(errors="replace")}
            rec["server_log_tail"] = srv.log_tail()
        rec["flagged"] = bool(flags)
        rec["flags"] = flags
        rec["contended"] = any(f.startswith("contended") for f in flags)
        return rec
    finally:
        rec["server_rc"] = srv.stop()


def startup_run(args: argparse.Namespace, target: str, sc: Scenario, i: int) -> dict[str, Any]:
    srv = Server(target, sc.model, args.server_cpu, RAW / f"startup-{target}-{i}.log")
    rec: dict[str, Any] = {"target": target, "launch": i}
    try:
        before = cpu_snapshot()
        srv.start()
        rec["cmd"] = srv.cmd
        first = wait_first_200(srv, sc)
        rec.update(first)
        if not first["ok"]:
            rec["server_log_tail"] = srv.log_tail()
            return rec
        assert srv.proc is not None
        after = cpu_snapshot()
        used, top = foreign_cpu(before, after, harness_pids() | set(session_pids(srv.proc.pid)))
        rec["first_200_s"] = first["elapsed_s"]
        rec["foreign_cores"] = round(used / first["elapsed_s"], 3)
        if used / first["elapsed_s"] > args.max_foreign_cpu:
            rec["contended"] = f"other processes used {used:.2f} CPU s during the start ({top})"
        time.sleep(args.rss_delay)
        assert srv.proc is not None
        rss, procs = tree_rss(srv.proc.pid)
        rec["idle_rss_kib"] = rss
        rec["processes"] = procs
        return rec
    finally:
        rec["server_rc"] = srv.stop()


# --------------------------------------------------------------------------- report


def median_or_none(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def summarise(
    load: list[dict[str, Any]],
    startup: list[dict[str, Any]],
    targets: list[str],
    scenarios: list[str],
) -> dict[str, Any]:
    """Medians over clean runs only: flagged runs (errors, contention) are counted, not used."""
    out: dict[str, Any] = {}
    for scn in scenarios:
        out[scn] = {}
        for t in targets:
            runs = [r for r in load if r["scenario"] == scn and r["target"] == t]
            good = [r for r in runs if not r.get("flagged") and "req_s" in r]
            errors = [r for r in runs if r.get("flagged") and not r.get("contended")]
            out[scn][t] = {
                "req_s": median_or_none([r["req_s"] for r in good]),
                "p50_ms": median_or_none([r["p50_ms"] for r in good if "p50_ms" in r]),
                "p99_ms": median_or_none([r["p99_ms"] for r in good if "p99_ms" in r]),
                "rounds": len({r["round"] for r in runs}),
                "attempts": len(runs),
                "clean_runs": len(good),
                "error_runs": len(errors),
                "contended_runs": sum(1 for r in runs if r.get("contended")),
                "non2xx_total": sum(r.get("non2xx") or 0 for r in runs),
                "clean_req_s": [r["req_s"] for r in good],
            }
    out["startup"] = {}
    for t in targets:
        runs = [r for r in startup if r["target"] == t]
        ok = [r for r in runs if r.get("ok")]
        good = [r for r in ok if not r.get("contended")]
        out["startup"][t] = {
            "first_200_s": median_or_none([r["first_200_s"] for r in good]),
            "idle_rss_mib": median_or_none([r["idle_rss_kib"] / 1024 for r in ok]),
            "rounds": len({r["launch"] for r in runs}),
            "attempts": len(runs),
            "clean_runs": len(good),
            "error_runs": len(runs) - len(ok),
            "contended_runs": len(ok) - len(good),
            "clean_first_200_s": [r["first_200_s"] for r in good],
            "idle_rss_mib_all": [r["idle_rss_kib"] / 1024 for r in ok],
        }
    return out


ROWS = [
    # (label, section, key, format, higher_is_better)
    ("predict req/s", "predict", "req_s", "{:,.0f}", True),
    ("predict p50 (ms)", "predict", "p50_ms", "{:.2f}", False),
    ("predict p99 (ms)", "predict", "p99_ms", "{:.2f}", False),
    ("upload req/s", "upload", "req_s", "{:,.0f}", True),
    ("upload p50 (ms)", "upload", "p50_ms", "{:.2f}", False),
    ("upload p99 (ms)", "upload", "p99_ms", "{:.2f}", False),
    ("idle RSS (MiB, process tree)", "startup", "idle_rss_mib", "{:.1f}", False),
    ("Popen -> first 200 predict (s)", "startup", "first_200_s", "{:.3f}", False),
]


def ratios(summary: dict[str, Any], targets: list[str]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for label, sec, key, _, _ in ROWS:
        if sec not in summary:
            continue
        vals = {t: summary[sec].get(t, {}).get(key) for t in targets}
        r: dict[str, float | None] = {}
        for num, den in (("M", "a"), ("M", "b"), ("b", "a")):
            if num in vals and den in vals:
                n, d = vals[num], vals[den]
                r[f"{num}/{den}"] = (n / d) if (n is not None and d) else None
        out[label] = r
    return out


def cell(summary: dict[str, Any], sec: str, t: str, key: str, fmt: str) -> str:
    s = summary.get(sec, {}).get(t)
    if s is None:
        return "-"
    v = s.get(key)
    txt = fmt.format(v) if v is not None else "ERR"
    if s["error_runs"]:
        txt += f" ⚠{s['error_runs']} failed"
    if s["clean_runs"] < s["rounds"] and not (sec == "startup" and key == "idle_rss_mib"):
        txt += f" (n={s['clean_runs']})"
    return txt


def goals(summary: dict[str, Any], rat: dict[str, Any]) -> list[dict[str, Any]]:
    g = []

    def add(name: str, value: float | None, ok: bool | None) -> None:
        g.append({"goal": name, "value": value, "met": ok})

    if "M" in summary.get("predict", {}) and "b" in summary.get("predict", {}):
        v = rat["predict req/s"].get("M/b")
        add("predict req/s M >= 0.9 x b", v, None if v is None else v >= 0.9)
    if "M" in summary.get("upload", {}) and "a" in summary.get("upload", {}):
        v = rat["upload req/s"].get("M/a")
        add("upload req/s M >= 5 x a", v, None if v is None else v >= 5)
    m = summary.get("startup", {}).get("M")
    if m:
        v = m["idle_rss_mib"]
        add("M idle RSS <= 80 MiB", v, None if v is None else v <= 80)
        v = m["first_200_s"]
        add("M Popen -> first 200 < 1.0 s", v, None if v is None else v < 1.0)
    return g


def markdown(
    summary: dict[str, Any],
    rat: dict[str, Any],
    targets: list[str],
    gl: list[dict[str, Any]],
    settings: dict[str, Any],
) -> str:
    pairs = [p for p in ("M/a", "M/b", "b/a") if p[0] in targets and p[2] in targets]
    head = ["metric (median)"] + [f"{t} {TARGET_LABELS[t]}" for t in targets] + pairs
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, sec, key, fmt, _ in ROWS:
        if sec not in summary:
            continue
        row = [label] + [cell(summary, sec, t, key, fmt) for t in targets]
        for p in pairs:
            v = rat.get(label, {}).get(p)
            row.append(f"{v:.2f}" if v is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        f"wrk -t1 -c{settings['connections']} -d{settings['duration_s']:g}s --latency, "
        f"{settings['rounds']} rounds interleaved, {settings['warmup_s']:g} s warmup; server on "
        f"CPU {settings['server_cpu']}, wrk on CPU {settings['client_cpu']}; "
        + (
            f"startup and RSS: median of {settings['launches']} launches; "
            if "startup" in summary
            else ""
        )
        + f"upload temp files in {settings['tmpdir']} "
        f"({settings['tmpdir_fs']}). ⚠ = runs with errors; they and runs disturbed by other "
        "processes are left out of the medians (n = clean runs when fewer than planned)."
    )
    if gl:
        lines.append("")
        for g in gl:
            mark = {True: "PASS", False: "FAIL", None: "n/a"}[g["met"]]
            val = f"{g['value']:.3f}" if g["value"] is not None else "-"
            lines.append(f"- {mark}: {g['goal']} (measured {val})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description="modelport vs DEEPaaS 2.6.0 vs bare FastAPI")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before each run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--launches", type=int, default=5, help="startup launches per target")
    ap.add_argument(
        "--rss-delay",
        type=float,
        default=2.0,
        help="seconds after the first 200 before reading idle RSS",
    )
    ap.add_argument("--only", default="M,a,b", help="comma-separated subset of M,a,b")
    ap.add_argument("--scenarios", default="predict,upload")
    ap.add_argument("--no-startup", action="store_true", help="skip the startup/RSS phase")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument(
        "--tmpdir",
        default="auto",
        help="parent of each server's TMPDIR, where M and a write upload temp files; "
        "'auto' (default): /dev/shm (tmpfs) when writable, else the system's temp dir",
    )
    ap.add_argument(
        "--max-foreign-cpu",
        type=float,
        default=0.10,
        help="cores other processes may use during a run before it counts as contended",
    )
    ap.add_argument(
        "--quiet-wait", type=float, default=600, help="max seconds to wait for a quiet machine"
    )
    ap.add_argument(
        "--quiet-window",
        type=int,
        default=3,
        help="seconds the machine must be quiet before each run",
    )
    ap.add_argument("--retries", type=int, default=4, help="reruns of a contended run")
    ap.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = ap.parse_args()

    targets = [t for t in TARGET_ORDER if t in {s.strip() for s in args.only.split(",")}]
    all_sc = make_scenarios()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not targets or any(s not in all_sc for s in scenarios):
        ap.error("bad --only or --scenarios")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            ap.error(f"{tool} not found (apt-get update && apt-get install -y wrk util-linux)")
    cpus = os.sched_getaffinity(0)
    if {args.server_cpu, args.client_cpu} - cpus or args.server_cpu == args.client_cpu:
        ap.error(f"need two distinct CPUs for server and wrk; this process may use {cpus}")
    # The harness (probes, RSS reads) stays off the server's core.
    os.sched_setaffinity(0, {args.client_cpu})
    if args.tmpdir == "auto":
        shm = Path("/dev/shm")
        args.tmpdir = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir
    RAW.mkdir(parents=True, exist_ok=True)

    pre: dict[str, Any] = {}
    if "a" in targets:
        ensure_deepaas_venv()
        pre["deepaas_entry_points"] = check_entry_points(DEEPAAS_VENV / "bin" / "python")
    if {"M", "b"} & set(targets):
        pre["modelport_venv_entry_points"] = check_entry_points(MODELPORT_PY)
    if "M" in targets:
        pre["modelport_serve_help"] = modelport_preflight()
        if pre["modelport_serve_help"]["rc"] != 0:
            log(
                "WARNING: `modelport serve --help` fails; M runs will be recorded as failures:\n"
                + pre["modelport_serve_help"]["output_tail"][-1500:]
            )
    for k, v in pre.items():
        if k.endswith("entry_points") and not v["ok"]:
            log(f"ERROR: {k}: benchmark models not visible: {v}")
            return 2

    settings = {
        "rounds": args.rounds,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "wrk_threads": 1,
        "launches": args.launches,
        "rss_delay_s": args.rss_delay,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
        "targets": targets,
        "scenarios": scenarios,
        "tmpdir": tempfile.gettempdir(),
        "tmpdir_fs": fs_type(tempfile.gettempdir()),
        "max_foreign_cpu": args.max_foreign_cpu,
        "retries": args.retries,
        "quiet_window_s": args.quiet_window,
    }
    src_before = src_fingerprint()
    load: list[dict[str, Any]] = []
    for scn in scenarios:
        sc = all_sc[scn]
        for rnd in range(1, args.rounds + 1):
            for t in targets:
                for attempt in range(args.retries + 1):
                    log(
                        f"[load] {scn} round {rnd}/{args.rounds}: {t} ({TARGET_LABELS[t]})"
                        + (f" retry {attempt}" if attempt else "")
                        + " ..."
                    )
                    quiet = wait_quiet(args)
                    rec = load_run(args, t, sc, rnd)
                    rec.update(attempt=attempt, quiet=quiet)
                    load.append(rec)
                    log(
                        f"    req/s={rec.get('req_s')} p50={rec.get('p50_ms')} ms "
                        f"p99={rec.get('p99_ms')} ms non2xx={rec.get('non2xx')}"
                        + (f"  FLAGGED: {rec['flags']}" if rec.get("flagged") else "")
                    )
                    if not rec.get("contended"):
                        break
    startup: list[dict[str, Any]] = []
    if not args.no_startup:
        for i in range(1, args.launches + 1):
            for t in targets:
                for attempt in range(args.retries + 1):
                    quiet = wait_quiet(args)
                    rec = startup_run(args, t, all_sc["predict"], i)
                    rec.update(attempt=attempt, quiet=quiet)
                    startup.append(rec)
                    if rec.get("ok"):
                        log(
                            f"[startup] {t} launch {i}: first 200 after "
                            f"{rec['first_200_s']:.3f} s, idle RSS "
                            f"{rec['idle_rss_kib'] / 1024:.1f} MiB"
                            + (f"  CONTENDED: {rec['contended']}" if rec.get("contended") else "")
                        )
                    else:
                        log(
                            f"[startup] {t} launch {i}: FAILED {rec.get('error')} "
                            f"(last status {rec.get('status')}, "
                            f"body {rec.get('body', '')[:200]!r})"
                        )
                    if not rec.get("contended"):
                        break

    src_after = src_fingerprint()
    if "M" in targets and src_after != src_before:
        log("WARNING: src/ changed during the run: the M figures mix two versions of modelport")
    summary = summarise(load, startup, targets, scenarios)
    if args.no_startup:
        summary.pop("startup")
    rat = ratios(summary, targets)
    gl = goals(summary, rat)
    md = markdown(summary, rat, targets, gl, settings)
    if "M" in targets and src_after != src_before:
        md += "\n**Warning:** `src/` changed during this run; the M figures mix two versions.\n"
    result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "modelport_src": {
            "sha256_before": src_before,
            "sha256_after": src_after,
            "changed_during_run": src_after != src_before,
        },
        "settings": settings,
        "versions": {
            "modelport_venv": versions(
                MODELPORT_PY,
                [
                    "modelport",
                    "fastapi",
                    "starlette",
                    "uvicorn",
                    "uvloop",
                    "httptools",
                    "pydantic",
                    "python-multipart",
                    "marshmallow",
                    "webargs",
                ],
            ),
            **(
                {
                    "deepaas_venv": versions(
                        DEEPAAS_VENV / "bin" / "python",
                        ["deepaas", "aiohttp", "webargs", "marshmallow"],
                    )
                }
                if "a" in targets
                else {}
            ),
        },
        "preflight": pre,
        "summary": summary,
        "ratios": rat,
        "goals": gl,
        "table_md": md,
        "load_runs": load,
        "startup_runs": startup,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(md)
    print(md)
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
