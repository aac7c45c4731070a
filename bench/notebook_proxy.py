#!/usr/bin/env python3
"""What the platform's notebook proxy adds per request, vs JupyterHub's configurable-http-proxy.

    .venv/bin/python bench/notebook_proxy.py [--requests 300] [--cells 100] [--chp PATH]

Four ways to one kind of server (JupyterLab with the platform's flags), measured back to back:

- ``direct socket``: JupyterLab started by hand on a Unix socket, reached with its token;
- ``modelport``: a notebook of a fresh ``modelport up`` (auth off, bwrap), through
  ``/notebooks/{id}/`` (the proxy authenticates, strips and adds headers, streams);
- ``direct TCP``: JupyterLab started by hand on a TCP port;
- ``CHP``: that server behind configurable-http-proxy (JupyterHub's proxy, Node), installed with
  ``npm install --prefix /tmp/chp configurable-http-proxy@5.3.0`` (``--chp`` names its binary).

For each: the median of ``--requests`` sequential ``GET api/contents?content=0`` over one kept-
alive connection, and of ``--cells`` sequential executions of ``1`` on one open kernel channel
(execute_request → execute_reply and idle). A proxy's cost is its median minus its server's
(modelport minus direct socket, CHP minus direct TCP). Writes results/notebook_proxy.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from platform_kit import HOST, REPO, free_port, running_up
from websockets.sync.client import ClientConnection, connect, unix_connect

sys.path.insert(0, str(REPO))
from tests.notebooks.kernel import await_reply, execute_request, start_kernel

FLAGS = ["--no-browser", "--allow-root", "--ServerApp.log_level=WARN"]
FLAGS += ["--ServerApp.terminals_enabled=False", "--LabApp.news_url=None"]


@contextlib.contextmanager
def jupyter_by_hand(*, sock: Path | None = None, port: int | None = None) -> Iterator[str]:
    """JupyterLab on ``sock`` or TCP ``port`` under /hand/; yields its token."""
    with tempfile.TemporaryDirectory(prefix="nb-proxy-") as tmp:
        home, token = Path(tmp), secrets.token_urlsafe(16)
        env = {**os.environ, "HOME": tmp, "JUPYTER_TOKEN": token}
        env |= {"JUPYTER_CONFIG_DIR": f"{tmp}/.jupyter", "JUPYTER_RUNTIME_DIR": f"{tmp}/rt"}
        where = [f"--ServerApp.sock={sock}"] if sock else [f"--ServerApp.port={port}"]
        where += [] if sock else [f"--ServerApp.ip={HOST}", "--ServerApp.port_retries=0"]
        command = [sys.executable, "-m", "jupyterlab", *FLAGS, *where]
        command += ["--ServerApp.base_url=/hand/", f"--ServerApp.root_dir={home}"]
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            with client_for(sock, port, token) as client:
                wait_answers(client, "JupyterLab", 60)
            yield token
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_answers(client: httpx.Client, what: str, limit_s: float) -> None:
    """Poll the hand-started JupyterLab's status through ``client`` until it answers 200."""
    deadline = time.monotonic() + limit_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if client.get("/hand/api/status").status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def client_for(sock: Path | None, port: int | None, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"token {token}"} if token else {}
    if sock is not None:
        transport = httpx.HTTPTransport(uds=str(sock))
        return httpx.Client(transport=transport, base_url="http://localhost", headers=headers)
    return httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers)


def http_median(client: httpx.Client, path: str, n: int) -> float:
    """The median seconds of ``n`` sequential GETs of ``path`` (after 20 to warm up)."""
    times = []
    for i in range(n + 20):
        started = time.perf_counter()
        answer = client.get(path, params={"content": "0"})
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        if i >= 20:
            times.append(elapsed)
    return statistics.median(times)


def execute(channel: ClientConnection, session: str, code: str) -> None:
    frame, msg_id = execute_request(code, session)
    channel.send(frame)
    await_reply(lambda: channel.recv(timeout=30), msg_id)


def cell_median(open_channel: Callable[[str], ClientConnection], n: int) -> float:
    """The median seconds of ``n`` sequential executions of ``1`` on one kernel channel."""
    session = uuid.uuid4().hex
    times = []
    with open_channel(session) as channel:
        for i in range(n + 10):
            started = time.perf_counter()
            execute(channel, session, "1")
            if i >= 10:
                times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(
    base: str,
    client: httpx.Client,
    ws: Callable[[str], ClientConnection],
    requests: int,
    cells: int,
) -> dict[str, float]:
    return {
        "http_ms": http_median(client, f"{base}api/contents", requests) * 1000,
        "cell_ms": cell_median(ws, cells) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--chp", default="/tmp/chp/node_modules/.bin/configurable-http-proxy")
    options = parser.parse_args()
    n, cells = options.requests, options.cells
    results: dict[str, dict[str, float]] = {}

    with tempfile.TemporaryDirectory(prefix="nb-sock-") as tmp:
        sock = Path(tmp) / "j.sock"
        with jupyter_by_hand(sock=sock) as token:
            client = client_for(sock, None, token)
            kernel = client.post("/hand/api/kernels", json={"name": "python3"}).json()["id"]
            auth = {"Authorization": f"token {token}"}

            def ws(session: str) -> ClientConnection:
                uri = f"ws://localhost/hand/api/kernels/{kernel}/channels?session_id={session}"
                return unix_connect(str(sock), uri, additional_headers=auth)

            results["direct socket"] = measure("/hand/", client, ws, n, cells)

    with running_up({}, lambda data_dir: None) as port:
        platform = f"http://{HOST}:{port}"
        job = httpx.post(f"{platform}/jobs", json={"kind": "notebook"}).json()["id"]
        while not httpx.get(f"{platform}/jobs/{job}/notebook").json()["ready"]:
            time.sleep(0.1)
        prefix = f"/notebooks/{job}/"
        kernel = start_kernel(platform + prefix, {})
        client = client_for(None, port, None)

        def ws(session: str) -> ClientConnection:
            return connect(
                f"ws://{HOST}:{port}{prefix}api/kernels/{kernel}/channels?session_id={session}"
            )

        results["modelport"] = measure(prefix, client, ws, n, cells)
        httpx.post(f"{platform}/jobs/{job}/cancel")

    jport, cport, api = free_port(), free_port(), free_port()
    with jupyter_by_hand(port=jport) as token:
        auth = {"Authorization": f"token {token}"}
        direct = client_for(None, jport, token)
        kernel = direct.post("/hand/api/kernels", json={"name": "python3"}).json()["id"]

        def direct_ws(session: str) -> ClientConnection:
            uri = f"ws://{HOST}:{jport}/hand/api/kernels/{kernel}/channels?session_id={session}"
            return connect(uri, additional_headers=auth)

        results["direct TCP"] = measure("/hand/", direct, direct_ws, n, cells)
        chp = subprocess.Popen(
            [
                options.chp,
                "--ip",
                HOST,
                "--port",
                str(cport),
                "--api-ip",
                HOST,
                "--api-port",
                str(api),
                "--default-target",
                f"http://{HOST}:{jport}",
            ],
            env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(8)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proxied = client_for(None, cport, token)
            wait_answers(proxied, "configurable-http-proxy", 30)

            def chp_ws(session: str) -> ClientConnection:
                uri = f"ws://{HOST}:{cport}/hand/api/kernels/{kernel}/channels?session_id={session}"
                return connect(uri, additional_headers=auth)

            results["CHP"] = measure("/hand/", proxied, chp_ws, n, cells)
        finally:
            chp.terminate()
            chp.wait(timeout=10)

    ours = {
        k: results["modelport"][k] - results["direct socket"][k] for k in ("http_ms", "cell_ms")
    }
    theirs = {k: results["CHP"][k] - results["direct TCP"][k] for k in ("http_ms", "cell_ms")}
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "requests": n,
        "cells": cells,
        "medians_ms": {k: {m: round(v, 3) for m, v in r.items()} for k, r in results.items()},
        "proxy_cost_ms": {
            "modelport": {k: round(v, 3) for k, v in ours.items()},
            "CHP": {k: round(v, 3) for k, v in theirs.items()},
        },
    }
    print(json.dumps(summary, indent=2))
    (REPO / "bench" / "results" / "notebook_proxy.json").write_text(
        json.dumps(summary, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
