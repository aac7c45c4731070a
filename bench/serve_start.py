#!/usr/bin/env python3
"""``modelport serve`` start-up: Popen -> the first 200 predict, for a trainable legacy module.

    .venv/bin/python bench/serve_start.py [--launches 7] [--model trainable]

Each launch gets a fresh data directory (an empty job store: the worst case, the store is
created and migrated), bytecode allowed, the client polling every 10 ms. Models come from
bench/models (``trainable``: a DEEPaaS-style module with ``train``; ``trivial``: no training,
so no job store at all, for reference). Prints each launch and the median; standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PY = BENCH.parent / ".venv" / "bin" / "python"


def first_200(model: str, port: int) -> float:
    data = tempfile.mkdtemp(prefix="serve-start-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPATH=str(BENCH / "models"), MODELPORT_DATA_DIR=data)
    cmd = [str(PY), "-m", "modelport", "serve", model, "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", f"/v2/models/{model}/predict/?x=3")
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=7)
    ap.add_argument("--model", default="trainable")
    ap.add_argument("--port", type=int, default=18300)
    args = ap.parse_args()
    runs = [first_200(args.model, args.port + i) for i in range(args.launches)]
    shown = ", ".join(f"{r:.3f}" for r in runs)
    print(f"{args.model}: first 200 after {shown} s; median {statistics.median(runs):.3f} s")


if __name__ == "__main__":
    main()
