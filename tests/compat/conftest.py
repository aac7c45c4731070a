"""Reusable pieces for the black-box DEEPaaS compatibility suite.

Everything here is located relative to this file, so the suite runs from any
working directory. The modelport server is a real subprocess
(``python -m modelport serve fake-model``) with the fixture directory
``tests/fixtures/legacy_site`` on ``PYTHONPATH`` (that is how the fake legacy
module is discovered through its ``deepaas.v2.model`` entry point), its own
``TMPDIR`` and its own working directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
FIXTURE_SITE = HERE.parent / "fixtures" / "legacy_site"
GOLDEN_DIR = HERE / "golden" / "deepaas-2.6.0"
MODEL = "fake-model"
READY_PATH = "/health/ready"
READY_TIMEOUT_S = 30.0
EXTERNAL_URL_ENV = "MODELPORT_COMPAT_BASE_URL"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no output captured>"
    return text[-limit:] if text else "<empty>"


class ServerProcess:
    """A server subprocess with captured output, started in its own session."""

    def __init__(self, argv: list[str], env: dict[str, str], workdir: Path, base_url: str):
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.base_url = base_url
        self.stdout_path = workdir / "server.stdout.log"
        self.stderr_path = workdir / "server.stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return (
            f"command: {' '.join(self.argv)}\n"
            f"--- stderr (tail) ---\n{_tail(self.stderr_path)}\n"
            f"--- stdout (tail) ---\n{_tail(self.stdout_path)}"
        )

    def wait_ready(self, path: str = READY_PATH, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until GET <path> answers 200; fail with the server's output if it dies."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(f"server exited with code {code} before it was ready\n{self.output()}")
            try:
                resp = httpx.get(self.base_url + path, timeout=2)
                if resp.status_code == 200:
                    return
                last = f"GET {path} -> {resp.status_code} {resp.text[:200]!r}"
            except httpx.TransportError as exc:
                last = f"GET {path} -> {type(exc).__name__}"
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"server not ready after {timeout:.0f} s ({last})\n{self.output()}")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # The server ignored SIGTERM: kill it and any workers it started
            # (it leads its own process group, see start_new_session above).
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def start_modelport(workdir: Path, extra_env: dict[str, str] | None = None) -> ServerProcess:
    """Start ``python -m modelport serve fake-model`` on a free port and wait until ready."""
    port = free_port()
    tmpdir = workdir / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("DEEPAAS_V2_MODEL", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(FIXTURE_SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["TMPDIR"] = str(tmpdir)
    env.update(extra_env or {})
    argv = [
        sys.executable,
        "-m",
        "modelport",
        "serve",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = ServerProcess(argv, env, workdir / "cwd", f"http://127.0.0.1:{port}").start()
    server.wait_ready()
    return server


def load_golden(name: str) -> dict[str, Any]:
    path = GOLDEN_DIR / f"{name}.json"
    if not path.exists():
        pytest.fail(f"golden {path} is missing: run tests/compat/capture_golden.py")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def build_request(
    client: httpx.Client,
    req: dict[str, Any],
    *,
    path: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Request:
    """Build the request a golden recorded (same format as capture_golden.py).

    ``path`` replaces the recorded path; ``params`` and ``headers`` are merged
    over the recorded ones (a value of ``None`` is not allowed by design).
    """
    files = None
    if req.get("files"):
        files = {
            name: (f["filename"], f["content"].encode(), f["content_type"])
            for name, f in req["files"].items()
        }
    merged_params = {**req.get("params", {}), **(params or {})}
    merged_headers = {**req.get("headers", {}), **(headers or {})}
    return client.build_request(
        req["method"],
        path if path is not None else req["path"],
        params=merged_params or None,
        headers=merged_headers or None,
        data=req.get("data"),
        files=files,
    )


Replay = Callable[..., tuple[dict[str, Any], httpx.Response]]


@pytest.fixture(scope="session")
def golden() -> Callable[[str], dict[str, Any]]:
    """``golden(name)``: the recorded DEEPaaS 2.6.0 exchange ``<name>.json``."""
    return load_golden


@pytest.fixture(scope="session")
def replay() -> Replay:
    """``replay(client, name, path=..., params=..., headers=...)`` -> (golden, response).

    Sends the request recorded in golden ``name`` (optionally altered) and
    returns the golden together with the live response.
    """

    def _replay(
        client: httpx.Client, name: str, **overrides: Any
    ) -> tuple[dict[str, Any], httpx.Response]:
        gold = load_golden(name)
        resp = client.send(build_request(client, gold["request"], **overrides))
        return gold, resp

    return _replay


class ExternalServer(ServerProcess):
    """A server someone else started (``MODELPORT_COMPAT_BASE_URL``); never stopped here."""

    def __init__(self, base_url: str):
        super().__init__([], {}, Path(), base_url.rstrip("/"))

    def output(self) -> str:
        return f"external server at {self.base_url}: no output captured"

    def alive(self) -> bool:
        return True


@pytest.fixture(scope="module")
def modelport_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One modelport server for the whole test module.

    Set ``MODELPORT_COMPAT_BASE_URL`` to run the suite against a server that is
    already running instead (e.g. DEEPaaS 2.6.0 itself, to check the goldens
    replay deterministically: only the intentional differences fail then).
    """
    external = os.environ.get(EXTERNAL_URL_ENV)
    if external:
        yield ExternalServer(external)
        return
    server = start_modelport(tmp_path_factory.mktemp("modelport-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(modelport_server: ServerProcess) -> Iterator[httpx.Client]:
    """An HTTP client for the module's server. It never follows redirects."""
    with httpx.Client(base_url=modelport_server.base_url, timeout=30, follow_redirects=False) as c:
        yield c


@pytest.fixture
def modelport_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start extra, test-private modelport servers; they are stopped afterwards."""
    started: list[ServerProcess] = []

    def _start(workdir: Path | None = None, **extra_env: str) -> ServerProcess:
        if os.environ.get(EXTERNAL_URL_ENV):
            pytest.skip(f"needs its own server; {EXTERNAL_URL_ENV} is set")
        server = start_modelport(workdir or tmp_path / f"server{len(started)}", extra_env)
        started.append(server)
        return server

    try:
        yield _start
    finally:
        for server in started:
            server.stop()


def find_path(paths: dict[str, Any], path: str, *, templates: bool = False) -> str | None:
    """The key for ``path`` in a spec's paths, with or without a trailing slash.

    With ``templates``, a templated key (``/v2/models/{name}``) also documents a
    concrete path (``/v2/models/fake-model/``) and vice versa.
    """
    for candidate in (path, path.rstrip("/"), path.rstrip("/") + "/"):
        if candidate in paths:
            return candidate
    if templates:
        want = path.strip("/").split("/")
        for key in paths:
            have = key.strip("/").split("/")
            if len(have) == len(want) and all(
                a == b or a.startswith("{") or b.startswith("{")
                for a, b in zip(have, want, strict=True)
            ):
                return key
    return None
