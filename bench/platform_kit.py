"""What the platform benchmarks share: a fresh ``modelport up`` on 127.0.0.1 serving modules whose
code is written at run time, and a JSON request over a kept-alive connection.

    with running_up({"mp_x": SOURCE}, publish=lambda data_dir: ...) as port:
        ...

(Imported by bench/pipeline.py and bench/rollout.py, which run with ``.venv/bin/python``.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelport.catalog.metadata import ModuleMetadata

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def bench_metadata(title: str, summary: str) -> ModuleMetadata:
    """AI4OS metadata for a benchmark's module."""
    from modelport.catalog.metadata import validate_metadata

    return validate_metadata(
        {
            "metadata_version": "2.0.0",
            "title": title,
            "summary": summary,
            "description": f"{summary} (a modelport benchmark's module)",
            "links": {"source_code": "https://example.org/bench"},
            "libraries": [],
            "tasks": [],
            "categories": [],
            "tags": ["bench"],
            "license": "MIT",
        }
    )


def publish(data_dir: Path, name: str, version: str, spec: str, meta: ModuleMetadata) -> None:
    """Publish ``name version`` (code ``spec``) into the catalog of ``data_dir``."""
    from modelport.catalog.setup import build_catalog_service
    from modelport.settings import Settings

    service = build_catalog_service(Settings(data_dir=data_dir))
    service.registry.publish(name, version, meta, load_spec=spec)
    service.registry.engine.dispose()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    """One JSON request: status, headers (lower-case names), body."""
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    content = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, content


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            if request(conn, "GET", "/health/ready")[0] == 200:
                return
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("modelport up did not start")
        time.sleep(0.2)


@contextlib.contextmanager
def running_up(modules: Mapping[str, str], publish_into: Callable[[Path], None]) -> Iterator[int]:
    """A fresh ``modelport up`` (its defaults: SQLite, the process pool, the sandbox when
    bubblewrap is installed) whose catalog ``publish_into(data_dir)`` filled, with the Python
    ``modules`` (name → source) importable by its workers; yields its port, stops it after."""
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp:
        root = Path(tmp)
        package = root / "pkg"  # beside the data dir: a sandbox hides what holds it
        package.mkdir()
        for name, source in modules.items():
            (package / f"{name}.py").write_text(source)
        data_dir = root / "data"
        publish_into(data_dir)
        port = free_port()
        path = os.pathsep.join(p for p in (str(package), os.environ.get("PYTHONPATH")) if p)
        env = {
            **os.environ,
            "MODELPORT_DATA_DIR": str(data_dir),
            "PYTHONPATH": path,
            "XDG_DATA_HOME": str(root / "xdg"),
        }
        with (root / "up.log").open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "modelport", "up", "--host", HOST, "--port", str(port)],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
            try:
                _wait_ready(port, server)
                yield port
            except BaseException:
                print((root / "up.log").read_text()[-3000:], file=sys.stderr)
                raise
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGINT)
                server.wait(timeout=30)


def timed_post(
    conn: http.client.HTTPConnection, path: str, body: bytes
) -> tuple[float, dict[str, str], bytes]:
    """A JSON POST's wall time (s), headers and body; RuntimeError unless it answers 200."""
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    content = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {content!r}")
    return elapsed, {k.lower(): v for k, v in response.getheaders()}, content


def p50(values: list[float]) -> float:
    """The median of ``values`` (s) in ms."""
    return statistics.median(values) * 1000
