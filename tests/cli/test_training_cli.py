"""Training as a user runs it: a real server killed mid-training and restarted, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_cli import free_port
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


class Server:
    """``modelport serve`` in a subprocess, on its own data directory."""

    def __init__(self, data_dir: Path, *models: str) -> None:
        self.data_dir = data_dir
        self.models = models
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "modelport", "serve", *self.models, "--port", str(self.port)],
            env=subprocess_env(MODELPORT_DATA_DIR=str(self.data_dir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                if httpx.get(f"{self.url}/health/ready").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def get(self, path: str, **kw: Any) -> Any:
        return httpx.get(f"{self.url}{path}", timeout=10, **kw).json()

    def post(self, path: str, **kw: Any) -> Any:
        return httpx.post(f"{self.url}{path}", timeout=10, **kw).json()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    running = Server(data_dir, "trainer").start()
    yield running
    running.stop()


def wait_job(server: Server, job_id: str, until: Any, limit_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        job = server.get(f"/jobs/{job_id}")
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] == "Z"


def test_server_killed_mid_training_keeps_every_record(server: Server, data_dir: Path) -> None:
    lost = server.post("/jobs", json={"model": "trainer", "args": {"epochs": 200, "sleep": 0.1}})
    retried = server.post(
        "/jobs",
        json={"model": "trainer", "args": {"epochs": 30, "sleep": 0.05}, "max_attempts": 2},
    )
    running = wait_job(server, lost["id"], lambda j: j["progress"] >= 0.02)
    wait_job(server, retried["id"], lambda j: j["progress"] > 0)
    pid = int(running["executor_ref"][4:])
    time.sleep(0.4)  # let the log lines reach the store
    lines_before = server.get(f"/jobs/{lost['id']}/logs")["lines"]
    assert len(lines_before) >= 3

    server.kill()
    deadline = time.monotonic() + 2
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), "the training does not outlive its server"

    server.start()
    failed = server.get(f"/jobs/{lost['id']}")
    assert failed["status"] == "failed"
    assert failed["error"] == "the server stopped while the job was running"
    lines_after = server.get(f"/jobs/{lost['id']}/logs")["lines"]
    assert lines_after[: len(lines_before)] == lines_before
    metrics = server.get(f"/jobs/{lost['id']}/metrics")
    assert len(metrics) >= 3
    again = wait_job(server, retried["id"], lambda j: j["status"] == "succeeded", 60)
    assert again["status"] == "succeeded"
    assert again["attempts"] == 2
    legacy = server.get("/v2/models/trainer/train/")
    assert {t["uuid"]: t["status"] for t in legacy} == {lost["id"]: "error", retried["id"]: "done"}


def test_jobs_cli_against_a_server(server: Server) -> None:
    job = server.post("/jobs", json={"model": "trainer", "args": {"epochs": 2}})
    wait_job(server, job["id"], lambda j: j["status"] == "succeeded")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelport", "jobs", *args, "--url", server.url],
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env(),
            check=False,
        )

    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)["jobs"]] == [job["id"]]
    assert job["id"] in cli("list").stdout
    shown = json.loads(cli("show", job["id"]).stdout)
    assert shown["status"] == "succeeded"
    logs = cli("logs", job["id"], "--follow")
    assert logs.stdout.splitlines() == ["epoch 1/2 loss=0.5", "epoch 2/2 loss=0.25"]
    retry = cli("retry", job["id"])
    assert retry.returncode == 0
    new_id = retry.stdout.strip()
    assert server.get(f"/jobs/{new_id}")["retry_of"] == job["id"]
    wait_job(server, new_id, lambda j: j["status"] == "succeeded")
    conflict = cli("cancel", new_id)
    assert conflict.returncode == 2
    assert "409" in conflict.stderr
    missing = cli("show", "nope")
    assert missing.returncode == 2
    assert "404" in missing.stderr
    followed = cli("submit", "trainer", "--arg", "epochs=2", "--follow")
    assert followed.returncode == 0, followed.stderr
    submitted_id, *log_lines = followed.stdout.splitlines()[:3]
    assert log_lines == ["epoch 1/2 loss=0.5", "epoch 2/2 loss=0.25"]
    assert server.get(f"/jobs/{submitted_id}")["args"]["epochs"] == 2
    assert '"status": "succeeded"' in followed.stdout
    invalid = cli("submit", "trainer", "--arg", "epochs=0")
    assert invalid.returncode == 2
    assert "epochs" in invalid.stderr


def test_train_in_the_foreground(tmp_path: Path) -> None:
    env = subprocess_env(MODELPORT_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "modelport", "train", "trainer", "--epochs", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"final_loss": 0.25, "epochs": 2}
    assert "epoch 2/2 loss=0.25" in done.stderr
    assert "loss=0.25" in done.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "modelport", "train", "trainer", "--epochs", "1", "--fail"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert failed.returncode == 1
    assert "RuntimeError: diverged at the last epoch" in failed.stderr
    invalid = subprocess.run(
        [sys.executable, "-m", "modelport", "train", "trainer", "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert invalid.returncode == 2
    assert "epochs" in invalid.stderr


def test_ctrl_c_cancels_a_foreground_training(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport",
            "train",
            "trainer",
            "--epochs",
            "100",
            "--sleep",
            "0.1",
        ],
        env=subprocess_env(MODELPORT_DATA_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = ""
    while "loss=" not in seen:  # the training runs: its first metric arrived
        line = process.stderr.readline()
        assert line, f"the training ended before it was interrupted: {seen}"
        seen += line
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, seen + stderr
    assert "cancelled" in stderr
