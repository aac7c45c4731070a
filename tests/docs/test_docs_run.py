"""The docs run: every bash and python block of README.md and docs/*.md against a real ``up``.

One ``modelport up`` (sandbox auto, bundled examples seeded into a fresh data directory) serves
every document; each document runs in a fresh working directory, as a reader with the project's
environment activated and a fresh home would run it (see ``runner``). The server runs where the
documents and the CLI's default say it is, ``http://127.0.0.1:5000``, and the blocks run
unchanged: neither rewritten nor pointed elsewhere by ``MODELPORT_URL`` (which would also turn
the catalog commands, local by default, into a server's). So port 5000 must be free: the test
waits a little for it, then fails saying so.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.docs import runner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HOST, PORT = "127.0.0.1", 5000  # where the documents give the platform
PORT_WAIT_S = 60
DOCUMENT_TIMEOUT_S = 600  # a guard against a hang, not a timing


@dataclass(frozen=True)
class Platform:
    """A running ``modelport up`` and what a reader's shell needs to talk to it."""

    data_dir: Path
    home: Path
    log: Path  # the server's output

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def env(self) -> dict[str, str]:
        """A reader's environment: the project's venv activated, a fresh home, no test paths."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MODELPORT_", "PYTEST", "PYTHONPATH", "VIRTUAL_ENV"))
        }
        venv = Path(sys.executable).parent
        env.update(
            PATH=os.pathsep.join([str(venv), env.get("PATH", "")]),
            VIRTUAL_ENV=str(venv.parent),
            HOME=str(self.home),
            MODELPORT_DATA_DIR=str(self.data_dir),  # the CLI's local store is the platform's
            NO_COLOR="1",
        )
        return env


def _wait_for_the_documented_port() -> None:
    deadline = time.monotonic() + PORT_WAIT_S
    while True:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, PORT))
            except OSError as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"{HOST}:{PORT}, where the docs give the platform, is taken: {exc}")
            else:
                return
        time.sleep(1)


def _wait_ready(proc: subprocess.Popen[str], platform: Platform) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"modelport up ended:\n{platform.log_tail()}"
        try:
            if httpx.get(f"http://{HOST}:{PORT}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"modelport up not ready:\n{platform.log_tail()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("docs-platform")
    started = Platform(root / "data", root / "home", root / "up.log")
    started.home.mkdir()
    _wait_for_the_documented_port()
    log = started.log.open("w")
    command = [sys.executable, "-m", "modelport", "up", "--host", HOST, "--port", str(PORT)]
    proc = subprocess.Popen(
        [*command, "--sandbox", "auto"],
        env=started.env(),
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(proc, started)
        yield started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_every_command_block_runs(platform: Platform, document: Path, tmp_path: Path) -> None:
    cwd, scratch = tmp_path / "work", tmp_path / "scratch"
    cwd.mkdir()
    scratch.mkdir()
    failure = runner.run(document, cwd, scratch, platform.env(), timeout=DOCUMENT_TIMEOUT_S)
    assert failure is None, f"{failure}\n--- the server's output ---\n{platform.log_tail()}"


def test_the_documents_mark_what_they_do_not_run() -> None:
    """Few blocks are left out, each with a reason; every server start is among them."""
    for document in DOCUMENTS:
        # raises for an unmarked block that would start a server
        assert runner.steps(document), f"{document.name}: no block runs"
    left_out = [b for d in DOCUMENTS for b in runner.blocks(d) if b.not_run is not None]
    assert all(b.not_run for b in left_out)
    assert len(left_out) <= 6, [b.where for b in left_out]
