#!/usr/bin/env python3
"""A notebook's start-to-usable time on the platform, vs JupyterLab started by hand.

    .venv/bin/python bench/notebook_start.py [--launches 7]

modelport: a fresh ``modelport up`` (SQLite, local executor, bwrap when installed); each launch
is ``POST /jobs {"kind": "notebook"}`` and then, polling every 20 ms, the first 200 of
``GET /notebooks/{id}/lab`` through the platform's proxy (the page a user opens: JupyterLab
started in the job's sandbox and answering on its socket), then a kernel started and a cell run
over its WebSocket through the proxy (``1 + 1``); then Stop, waiting for the job's end.
By hand: the same JupyterLab command (no sandbox, no platform, no job) on a Unix socket, from
Popen to its first 200 of ``/lab``. Prints each launch and the medians; writes
results/notebook_start.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from platform_kit import HOST, REPO, request, running_up

sys.path.insert(0, str(REPO))
from tests.notebooks.kernel import run_cell, start_kernel

POLL = 0.02


def until(check: object, limit_s: float = 120) -> float:
    """Poll ``check()`` until true; seconds it took."""
    started = time.perf_counter()
    while not check():  # type: ignore[operator]
        if time.perf_counter() - started > limit_s:
            raise RuntimeError("timed out")
        time.sleep(POLL)
    return time.perf_counter() - started


def platform_launch(port: int) -> dict[str, float]:
    """One notebook on the platform: seconds to its /lab page, and to a cell's result."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    base = f"http://{HOST}:{port}"
    started = time.perf_counter()
    status, _, body = request(conn, "POST", "/jobs", {"kind": "notebook"})
    if status != 201:
        raise RuntimeError(f"POST /jobs: {status} {body!r}")
    job = json.loads(body)["id"]

    def lab_answers() -> bool:
        return request(conn, "GET", f"/notebooks/{job}/lab")[0] == 200

    until(lab_answers)
    usable = time.perf_counter() - started
    prefix = f"{base}/notebooks/{job}/"
    kernel = start_kernel(prefix, {})
    said = run_cell(prefix, kernel, "1 + 1", {})
    if said["result"] != "2":
        raise RuntimeError(f"the cell answered {said}")
    cell = time.perf_counter() - started
    request(conn, "POST", f"/jobs/{job}/cancel")

    def ended() -> bool:
        answer = json.loads(request(conn, "GET", f"/jobs/{job}")[2])
        return bool(answer["status"] in ("cancelled", "succeeded", "failed"))

    until(ended)
    return {"usable_s": usable, "cell_s": cell}


def by_hand_launch() -> float:
    """JupyterLab with the platform's flags on a Unix socket, by hand: seconds to /lab."""
    with tempfile.TemporaryDirectory(prefix="nb-hand-") as tmp:
        home, sock, token = Path(tmp), Path(tmp) / "j.sock", secrets.token_urlsafe(16)
        env = {
            **os.environ,
            "HOME": str(home),
            "JUPYTER_TOKEN": token,
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local"),
            "JUPYTER_RUNTIME_DIR": str(home / "rt"),
        }
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root"]
        command += [f"--ServerApp.sock={sock}", "--ServerApp.sock_mode=0600"]
        command += ["--ServerApp.base_url=/hand/", f"--ServerApp.root_dir={home}"]
        command += ["--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://localhost"
        )
        try:

            def lab_answers() -> bool:
                try:
                    answer = client.get("/hand/lab", headers={"Authorization": f"token {token}"})
                except httpx.TransportError:
                    return False
                return answer.status_code == 200

            until(lab_answers)
            return time.perf_counter() - started
        finally:
            client.close()
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--launches", type=int, default=7)
    launches = parser.parse_args().launches
    hand = []
    for i in range(launches):
        hand.append(by_hand_launch())
        print(f"by hand {i + 1}: /lab after {hand[-1]:.2f} s", flush=True)
    runs = []
    with running_up({}, lambda data_dir: None) as port:
        for i in range(launches):
            runs.append(platform_launch(port))
            print(
                f"platform {i + 1}: /lab after {runs[-1]['usable_s']:.2f} s, "
                f"a cell's result after {runs[-1]['cell_s']:.2f} s",
                flush=True,
            )
    usable = statistics.median(r["usable_s"] for r in runs)
    cell = statistics.median(r["cell_s"] for r in runs)
    alone = statistics.median(hand)
    summary = {
        "date": datetime.now(UTC).date().isoformat(),
        "launches": launches,
        "platform_usable_s": [round(r["usable_s"], 3) for r in runs],
        "platform_cell_s": [round(r["cell_s"], 3) for r in runs],
        "by_hand_s": [round(h, 3) for h in hand],
        "median_platform_usable_s": round(usable, 3),
        "median_platform_cell_s": round(cell, 3),
        "median_by_hand_s": round(alone, 3),
        "ratio_platform_to_by_hand": round(usable / alone, 2),
    }
    print(json.dumps(summary, indent=2))
    out = REPO / "bench" / "results" / "notebook_start.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
