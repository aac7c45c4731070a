#!/usr/bin/env python3
"""Uploading a file to your data on the platform vs to a WebDAV server (what AI4OS users do:
their storage is Nextcloud, a WebDAV server; here wsgidav, the WebDAV server of the tests).

    .venv/bin/python bench/data_upload.py [--size-mb 96] [--rounds 5]

Per round, interleaved, the same file of random bytes on /tmp, each upload to a new name:

- ``M whole``: ``curl -T FILE http://.../data/NAME`` (one PUT; the platform's default body limit
  is 100 MiB, hence 96 MiB);
- ``M chunks``: ``Client.put_data(FILE)`` in this process (8 MiB chunks with ``Content-Range``,
  each fsync'd on the server, resumable);
- ``M CLI``: ``modelport data put FILE``, the same plus the CLI's start (about 1 s of imports);
- ``W whole``: ``curl -T FILE`` to wsgidav (cheroot) serving a directory on the same disk;
- ``cp``: copying the file on the same disk, the ceiling.

Servers on CPU 0, clients on CPU 1 (taskset). wsgidav lives in bench/.venv-webdav (made with
``python3 -m venv`` + ``pip install wsgidav cheroot`` when missing; git-ignored). Results:
bench/results/data_upload.json and .md; medians over rounds (MB/s = 10^6 bytes per second) and the
ratios are what to compare (2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
WEBDAV_VENV = BENCH / ".venv-webdav"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(url: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {limit} s") from None
            time.sleep(0.2)


def wsgidav() -> Path:
    """The wsgidav command of bench/.venv-webdav (made when missing)."""
    command = WEBDAV_VENV / "bin" / "wsgidav"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WEBDAV_VENV)], check=True)
        pip = [str(WEBDAV_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "wsgidav", "cheroot"], check=True)
    return command


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    return subprocess.Popen(
        ["taskset", "-c", "0", *cmd],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def timed(cmd: list[str] | Callable[[], object]) -> float:
    """Seconds ``cmd`` (a command, or a call in this process) takes on CPU 1."""
    began = time.perf_counter()
    if callable(cmd):
        cmd()
    else:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["taskset", "-c", "1", *cmd], check=True, **quiet)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=96, help="file size in MiB (<= 100)")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    size = options.size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="mp-bench-data-", dir="/tmp"))
    source = work / "upload.bin"
    with source.open("wb") as out:
        for _ in range(options.size_mb):
            out.write(os.urandom(1024 * 1024))
    mp_port, dav_port = free_port(), free_port()
    mp_url, dav_url = f"http://{HOST}:{mp_port}", f"http://{HOST}:{dav_port}"
    (work / "dav").mkdir()
    platform = [sys.executable, "-m", "modelport", "up", "--no-seed", "--port", str(mp_port)]
    webdav = [str(wsgidav()), "--host", HOST, "--port", str(dav_port)]
    webdav += ["--root", str(work / "dav"), "--auth", "anonymous", "--server", "cheroot"]
    servers = [
        start([*platform, "--data-dir", str(work / "platform")]),
        start([*webdav, "--no-config"]),
    ]
    from modelport.client import Client

    client = Client(mp_url, timeout=600)
    try:
        wait_for(f"{mp_url}/health/ready")
        wait_for(f"{dav_url}/")
        put = [sys.executable, "-m", "modelport", "data", "put", str(source)]
        ways: dict[str, Callable[[int], list[str] | Callable[[], object]]] = {
            "M whole": lambda n: ["curl", "-sSf", "-T", str(source), f"{mp_url}/data/w{n}.bin"],
            "M chunks": lambda n: lambda: client.put_data(source, f"p{n}.bin"),
            "M CLI": lambda n: [*put, f"c{n}.bin", "--url", mp_url],
            "W whole": lambda n: ["curl", "-sSf", "-T", str(source), f"{dav_url}/w{n}.bin"],
            "cp": lambda n: ["cp", str(source), str(work / f"copy{n}.bin")],
        }
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        os.sched_setaffinity(0, {1})  # the in-process client, as the others: on CPU 1
        for n in range(options.rounds):
            for name, command in ways.items():
                seconds[name].append(timed(command(n)))
                print(f"round {n + 1}: {name} {size / seconds[name][-1] / 1e6:.0f} MB/s")
            for leftover in work.glob("copy*.bin"):
                leftover.unlink()
    finally:
        client.close()
        for server in servers:
            stop(server)
        shutil.rmtree(work, ignore_errors=True)
    rates = {name: size / statistics.median(times) / 1e6 for name, times in seconds.items()}
    report: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "size_bytes": size,
        "rounds": options.rounds,
        "seconds": seconds,
        "median_mb_s": rates,
        "ratios": {
            "M whole / W whole": rates["M whole"] / rates["W whole"],
            "M chunks / W whole": rates["M chunks"] / rates["W whole"],
            "M CLI / W whole": rates["M CLI"] / rates["W whole"],
            "M whole / cp": rates["M whole"] / rates["cp"],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data_upload.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"| way | MB/s (median of {options.rounds}, {options.size_mb} MiB) |", "|---|---|"]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in rates.items()]
    lines += ["", *(f"- {k}: **{v:.2f}**" for k, v in report["ratios"].items())]
    (RESULTS / "data_upload.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
