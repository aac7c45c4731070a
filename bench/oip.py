#!/usr/bin/env python3
"""Open Inference Protocol v2 (REST): iris on ``modelport serve`` vs MLServer 1.7, one client.

    uv venv /tmp/bench-mlserver --python 3.11                                        # once
    VIRTUAL_ENV=/tmp/bench-mlserver uv pip install "mlserver==1.7.*" "mlserver-sklearn==1.7.*" \\
        scikit-learn joblib                                                          # once
    .venv/bin/python bench/oip.py [--rounds 3] [--duration 10] [--warmup 3] [-c 16]
    .venv/bin/python bench/oip.py --report-only   # tables again from results/oip.json

MLServer is not in modelport's lock: it lives in its own venv (``--mlserver-venv``).

The model on both: scikit-learn's ``LogisticRegression(max_iter=1000)`` fitted on its bundled
Iris data, what ``modelport.examples.iris`` fits (modelport then predicts with the cached
coefficients in numpy; MLServer calls the fitted estimator's ``predict_proba``). For MLServer the
harness fits it at run time with the MLServer venv's scikit-learn and saves it with joblib
(``bench/models/mlserver_iris/fit_iris.py``) beside ``model-settings.json`` (MLServer's own
sklearn runtime, ``mlserver_sklearn.SKLearnModel``, ``predict_fn: predict_proba``,
``parallel_workers: 0``) and ``settings.json`` (``parallel_workers: 0``: inference in the
server process, no worker pool, as modelport; ``metrics_endpoint: null``: no metrics server;
``debug: false``: no access log). MLServer's gRPC server cannot be switched off; it stays idle.

Targets, each asked its natural request, as its ``GET /v2/models/iris`` metadata describes it:

- ``modelport``: ``modelport serve iris``; four ``FP64 [1]`` inputs (``sepal_length`` ...),
  output ``output`` (BYTES: the JSON list of species and probabilities);
- ``mlserver``: ``mlserver start`` of that folder; one ``FP32 [1, 4]`` input ``predict``,
  output ``predict_proba`` (``FP64 [1, 3]``);
- ``modelport-binary``: modelport with tritonclient's defaults (binary tensors both ways, the
  ``binary_data`` extension, which MLServer's REST server does not implement).

The first two use JSON tensors (``binary_data=False`` on inputs and the requested output): the
same encoding for both. The load: ``tritonclient.http.InferenceServerClient(concurrency=C)``
with ``C`` gevent greenlets, each calling ``client.infer(...)`` in a loop (what ``async_infer``
does under the hood; the client is gevent-based, so greenlets rather than OS threads), in its
own process pinned to ``--client-cpu``; the server on ``--server-cpu`` (``taskset``), both with
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1. Per run: a fresh
server, a first answer checked against the harness's own ``predict_proba``, a warm-up, then the
measured window: completed requests per second, p50/p99 of each call as the client sees it,
errors, and the CPU the server tree, the client and other processes used (a run where others
used more than ``--max-foreign-cpu`` cores is flagged and rerun). Rounds interleave the targets,
rotating their order; medians of clean rounds. Results: bench/results/oip.json and .md; server
logs in bench/results/raw/oip/.
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
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

REPO = BENCH.parent
RESULTS = BENCH / "results"
RAW = RESULTS / "raw" / "oip"
PY = REPO / ".venv" / "bin" / "python"
MLSERVER_FILES = BENCH / "models" / "mlserver_iris"
HOST = "127.0.0.1"
THREADS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TARGETS = ("modelport", "mlserver", "modelport-binary")
LABELS = {
    "modelport": "modelport serve, JSON tensors",
    "mlserver": "MLServer 1.7 sklearn runtime, JSON tensors",
    "modelport-binary": "modelport serve, binary tensors (tritonclient default)",
}
FLOWER = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
INFER = "/v2/models/iris/infer"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the load client


def client_main(target: str, port: int, concurrency: int, warmup: float, duration: float) -> int:
    """Load one server with tritonclient.http; print ``measuring``, ``done``, then a JSON line."""
    import gevent
    import numpy as np
    import tritonclient.http as triton

    binary = target == "modelport-binary"

    def request() -> tuple[list[Any], list[Any] | None]:
        if target == "mlserver":
            x = triton.InferInput("predict", [1, 4], "FP32")
            x.set_data_from_numpy(np.array([list(FLOWER.values())], np.float32), False)
            return [x], [triton.InferRequestedOutput("predict_proba", binary_data=False)]
        inputs = []
        for name, value in FLOWER.items():
            t = triton.InferInput(name, [1], "FP64")
            inputs.append(t.set_data_from_numpy(np.array([value]), binary_data=binary))
        return inputs, None if binary else [
            triton.InferRequestedOutput("output", binary_data=False)
        ]

    def setosa(result: Any) -> float:
        if target == "mlserver":
            return float(result.as_numpy("predict_proba")[0][0])
        text = result.as_numpy("output")[0]
        species = json.loads(text.decode() if isinstance(text, bytes) else text)
        return float(next(s["probability"] for s in species if s["label"] == "setosa"))

    client = triton.InferenceServerClient(
        f"{HOST}:{port}", concurrency=concurrency, connection_timeout=30, network_timeout=30
    )
    inputs, outputs = request()
    first = setosa(client.infer("iris", inputs, outputs=outputs))
    window = {"start": float("inf"), "end": float("inf")}
    latencies: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        ins, outs = request()
        while (t0 := time.perf_counter()) < window["end"]:
            try:
                client.infer("iris", ins, outputs=outs)
            except Exception as exc:  # every failure is counted; none stops the run
                if len(errors) < 1000:
                    errors.append(repr(exc)[:200])
                continue
            t1 = time.perf_counter()
            if window["start"] <= t0 and t1 <= window["end"]:
                latencies.append(t1 - t0)

    now = time.perf_counter()
    window.update(start=now + warmup, end=now + warmup + duration)
    greenlets = [gevent.spawn(worker) for _ in range(concurrency)]
    gevent.sleep(max(0.0, window["start"] - time.perf_counter()))
    cpu0 = time.process_time()
    print("measuring", flush=True)
    gevent.sleep(max(0.0, window["end"] - time.perf_counter()))
    cpu1 = time.process_time()
    print("done", flush=True)
    gevent.joinall(greenlets, timeout=60)
    client.close()
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0.0] * 99
    out = {
        "first_setosa": first,
        "requests": len(lat),
        "req_s": len(lat) / duration,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "mean_ms": statistics.fmean(lat) * 1000 if lat else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "client_cores": (cpu1 - cpu0) / duration,
    }
    print(json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------- servers

_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None
assert _spec.loader is not None
base = importlib.util.module_from_spec(_spec)  # bench/run.py: /proc helpers, quiet guard
sys.modules["bench_run"] = base
_spec.loader.exec_module(base)


def expected_setosa() -> float:
    """The fitted model's ``predict_proba`` for FLOWER, setosa, computed here."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    clf = LogisticRegression(max_iter=1000).fit(data.data, data.target)
    return float(clf.predict_proba([list(FLOWER.values())])[0][0])


def mlserver_dir(venv: Path, root: Path) -> Path:
    """A model repository for MLServer: both settings files and a freshly fitted model.joblib."""
    folder = root / "iris"
    folder.mkdir()
    for name in ("settings.json", "model-settings.json"):
        shutil.copy(MLSERVER_FILES / name, folder / name)
    fit = [str(venv / "bin" / "python"), str(MLSERVER_FILES / "fit_iris.py")]
    subprocess.run([*fit, str(folder / "model.joblib")], check=True, env=clean_env())
    return folder


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(THREADS_ENV)
    return env


class Server:
    """One target's server in its own session, pinned to a CPU."""

    def __init__(self, target: str, rnd: int, args: argparse.Namespace, ws: dict[str, Path]):
        self.target = target
        self.port = base.free_port()
        self.log_path = RAW / f"{target}-r{rnd}.log"
        env = clean_env()
        if target == "mlserver":
            cmd = [str(Path(args.mlserver_venv) / "bin" / "mlserver"), "start", "."]
            env.update(MLSERVER_HTTP_PORT=str(self.port), MLSERVER_GRPC_PORT=str(base.free_port()))
            cwd = ws["mlserver"]
        else:
            cmd = [str(PY), "-m", "modelport", "serve", "iris", "--host", HOST]
            cmd += ["--port", str(self.port)]
            env["MODELPORT_DATA_DIR"] = str(ws["modelport"])
            cwd = REPO
        self.cmd = ["taskset", "-c", str(args.server_cpu), *cmd]
        RAW.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def pids(self) -> set[int]:
        return set(base.session_pids(self.proc.pid))

    def stop(self) -> int | None:
        """SIGINT the session (Ctrl-C), SIGKILL after 20 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        return ""


def json_request(target: str) -> bytes:
    """A plain JSON infer body (the readiness probe): the same tensors the client sends."""
    if target == "mlserver":
        inputs = [{"name": "predict", "shape": [1, 4], "datatype": "FP32"}]
        inputs[0]["data"] = list(FLOWER.values())
    else:
        inputs = [
            {"name": n, "shape": [1], "datatype": "FP64", "data": [v]} for n, v in FLOWER.items()
        ]
    return json.dumps({"inputs": inputs}).encode()


def wait_ready(srv: Server, timeout: float = 180) -> dict[str, Any]:
    """Poll the infer route until it answers 200."""
    t0 = time.monotonic()
    last: Any = None
    while time.monotonic() - t0 < timeout:
        if srv.proc.poll() is not None:
            return {"ok": False, "error": f"server exited with {srv.proc.returncode}"}
        conn = http.client.HTTPConnection(HOST, srv.port, timeout=10)
        try:
            conn.request(
                "POST", INFER, json_request(srv.target), {"Content-Type": "application/json"}
            )
            resp = conn.getresponse()
            last = (resp.status, resp.read()[:300].decode(errors="replace"))
            if resp.status == 200:
                return {"ok": True, "start_s": round(time.monotonic() - t0, 2)}
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        finally:
            conn.close()
        time.sleep(0.05)
    return {"ok": False, "error": f"no 200 within {timeout:.0f} s", "last": last}


def load_run(
    args: argparse.Namespace, target: str, rnd: int, ws: dict[str, Path], want: float
) -> dict[str, Any]:
    rec: dict[str, Any] = {"target": target, "round": rnd}
    base.wait_quiet(args)
    srv = Server(target, rnd, args, ws)
    rec["cmd"] = srv.cmd
    try:
        ready = wait_ready(srv)
        rec["ready"] = ready
        if not ready["ok"]:
            rec.update(flagged=True, flags=[f"not ready: {ready}"], log_tail=srv.log_tail())
            return rec
        cmd = ["taskset", "-c", str(args.client_cpu), str(PY), __file__, "--client", target]
        cmd += [str(srv.port), str(args.concurrency), str(args.warmup), str(args.duration)]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=clean_env())
        assert client.stdout is not None
        lines = []
        while (line := client.stdout.readline()) and line.strip() != "measuring":
            lines.append(line)
        ours = base.harness_pids() | srv.pids() | {client.pid}
        before = base.cpu_snapshot()
        t0 = time.perf_counter()
        client.stdout.readline()
        elapsed = time.perf_counter() - t0
        after = base.cpu_snapshot()
        rest = client.stdout.read()
        client.wait(timeout=120)
        foreign, top = base.foreign_cpu(before, after, ours)
        server = srv.pids()
        server_cpu = sum(after[p][0] - before.get(p, (0,))[0] for p in server if p in after)
        flags = []
        try:
            rec.update(json.loads(rest.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            flags.append(
                f"client failed ({client.returncode}): {''.join(lines)[-500:]}{rest[-500:]}"
            )
        rec["server_cores"] = round(server_cpu / base.CLK_TCK / elapsed, 3)
        rec["foreign_cores"] = round(foreign / elapsed, 3)
        rec["foreign_top"] = top
        rec["server_processes"] = len(server)
        if "first_setosa" in rec and abs(rec["first_setosa"] - want) > 1e-5:
            flags.append(f"wrong answer: setosa {rec['first_setosa']} (want {want})")
        if rec.get("errors"):
            flags.append(f"{rec['errors']} failed requests: {rec.get('error_samples')}")
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


# --------------------------------------------------------------------------- report


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for t in TARGETS:
        clean = [r for r in runs if r["target"] == t and not r.get("flagged")]
        keys = ("req_s", "p50_ms", "p99_ms", "server_cores", "client_cores", "foreign_cores")
        per[t] = {
            "n": len(clean),
            **{k: med([r[k] for r in clean if r.get(k) is not None]) for k in keys},
            "rounds_req_s": [r.get("req_s") for r in clean],
        }
        per[t]["server_cpu_us_per_req"] = med(
            [r["server_cores"] / r["req_s"] * 1e6 for r in clean if r.get("req_s")]
        )
    mp, ml, mpb = (per[t]["req_s"] for t in TARGETS)
    ratios = {
        "modelport/MLServer req/s (JSON tensors)": mp / ml if mp and ml else None,
        "modelport binary/MLServer req/s": mpb / ml if mpb and ml else None,
    }
    cpu = {t: per[t]["server_cpu_us_per_req"] for t in TARGETS}
    if cpu["modelport"] and cpu["mlserver"]:
        ratios["MLServer/modelport server CPU per request (JSON tensors)"] = (
            cpu["mlserver"] / cpu["modelport"]
        )
    by_round = {}
    for r in runs:
        if not r.get("flagged") and r["target"] in ("modelport", "mlserver"):
            by_round.setdefault(r["round"], {})[r["target"]] = r["req_s"]
    ratios_rounds = [
        round(v["modelport"] / v["mlserver"], 2) for _, v in sorted(by_round.items()) if len(v) == 2
    ]
    measured = ratios["modelport/MLServer req/s (JSON tensors)"]
    return {
        "targets": per,
        "ratios": ratios,
        "per_round_ratio": ratios_rounds,
        "goal": {
            "goal": "modelport req/s >= 2 x MLServer (same client, same encoding)",
            "measured": measured,
            "pass": measured is not None and measured >= 2.0,
        },
    }


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def markdown(res: dict[str, Any]) -> str:
    s, a = res["summary"], res["settings"]
    lines = [
        f"`{res['command']}` — {a['rounds']} rounds x {a['duration']:g} s after {a['warmup']:g} s "
        f"warm-up, tritonclient.http with {a['concurrency']} greenlets on CPU {a['client_cpu']}, "
        f"server on CPU {a['server_cpu']}, numpy threads 1; medians of clean rounds.",
        "",
        "| target | req/s | p50 (ms) | p99 (ms) | server CPU (cores) | server CPU per request (µs) "
        "| client CPU (cores) | rounds (req/s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        r = s["targets"][t]
        rounds = ", ".join(fmt(x, ",.0f") for x in r["rounds_req_s"])
        n = "" if r["n"] == a["rounds"] else f" (n={r['n']})"
        lines.append(
            f"| {LABELS[t]}{n} | {fmt(r['req_s'], ',.0f')} | {fmt(r['p50_ms'], '.2f')} "
            f"| {fmt(r['p99_ms'], '.2f')} | {fmt(r['server_cores'], '.2f')} "
            f"| {fmt(r['server_cpu_us_per_req'], '.0f')} | {fmt(r['client_cores'], '.2f')} "
            f"| {rounds} |"
        )
    lines += ["", "| ratio (of medians) | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v, '.2f')} |" for k, v in s["ratios"].items()]
    g = s["goal"]
    lines += [
        "",
        f"Per-round modelport/MLServer: {', '.join(map(str, s['per_round_ratio']))}.",
        "",
        f"Goal: {g['goal']}: measured **{fmt(g['measured'], '.2f')}** — "
        f"**{'PASS' if g['pass'] else 'FAIL'}**",
    ]
    return "\n".join(lines) + "\n"


def versions(mlserver_py: Path) -> dict[str, Any]:
    web = ["fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "numpy"]
    mp = ["modelport", "tritonclient", "gevent", "geventhttpclient", "scikit-learn", *web]
    ml = ["mlserver", "mlserver-sklearn", "scikit-learn", "joblib", *web]
    return {
        "modelport_venv": base.versions(PY, mp),
        "mlserver_venv": base.versions(mlserver_py, ml),
    }


def main() -> int:
    if len(sys.argv) == 7 and sys.argv[1] == "--client":
        t, port, c, warm, dur = sys.argv[2:]
        return client_main(t, int(port), int(c), float(warm), float(dur))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    ap.add_argument("--mlserver-venv", default="/tmp/bench-mlserver")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--max-foreign-cpu", type=float, default=0.15)
    ap.add_argument("--quiet-window", type=int, default=3)
    ap.add_argument("--quiet-wait", type=float, default=120.0)
    ap.add_argument("--retries", type=int, default=2, help="reruns of a contended run")
    ap.add_argument("--out", default=str(RESULTS / "oip.json"))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if args.report_only:
        res = json.loads(out.read_text())
        res["summary"] = summarise(res["runs"])
        return write(res, out)
    targets = [t for t in TARGETS if t in args.only.split(",")]
    venv = Path(args.mlserver_venv)
    res: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ("python bench/oip.py " + " ".join(sys.argv[1:])).rstrip(),
        "settings": {k: v for k, v in vars(args).items() if k != "report_only"},
        "threads_env": THREADS_ENV,
        "machine": base.machine_info(),
        "src_fingerprint": base.src_fingerprint(),
        "versions": versions(venv / "bin" / "python"),
        "mlserver_settings": {
            n: json.loads((MLSERVER_FILES / n).read_text())
            for n in ("settings.json", "model-settings.json")
        },
        "runs": [],
    }
    want = expected_setosa()
    res["expected_setosa"] = want
    with tempfile.TemporaryDirectory(prefix="mpbench-oip-") as tmp:
        ws = {"modelport": Path(tmp) / "modelport-data", "mlserver": mlserver_dir(venv, Path(tmp))}
        for rnd in range(1, args.rounds + 1):
            order = targets[rnd - 1 :] + targets[: rnd - 1]
            for t in order:
                for attempt in range(args.retries + 1):
                    log(f"round {rnd}: {t} (try {attempt + 1})")
                    rec = load_run(args, t, rnd, ws, want)
                    rec["attempt"] = attempt + 1
                    rec["loadavg"] = os.getloadavg()
                    res["runs"].append(rec)
                    log(
                        f"  {rec.get('req_s')} req/s p50 {rec.get('p50_ms')} "
                        f"p99 {rec.get('p99_ms')} server {rec.get('server_cores')} "
                        f"client {rec.get('client_cores')} others {rec.get('foreign_cores')} "
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
