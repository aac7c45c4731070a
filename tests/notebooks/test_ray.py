"""A notebook on the Ray executor: ``modelport up --executor ray`` (a local cluster) runs it as a
Ray task like a training, and the platform reaches it through the same proxy (the socket is on
the platform's node)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.notebooks.kernel import run_cell, start_kernel
from tests.ui.test_browser_platform import start_platform, stop

pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("notebooks-ray")
    proc, base = start_platform(data, limit_s=120, MODELPORT_EXECUTOR="ray")
    try:
        yield base
    finally:
        stop(proc)


def test_a_notebook_runs_as_a_ray_task_behind_the_same_proxy(
    ray_platform: str, tmp_path: Path
) -> None:
    base = ray_platform
    job = httpx.post(f"{base}/jobs", json={"kind": "notebook"}, timeout=30).json()
    assert job["kind"] == "notebook", job
    deadline = time.monotonic() + 120
    while not (state := httpx.get(f"{base}/jobs/{job['id']}/notebook").json())["ready"]:
        assert state["status"] in ("queued", "running"), httpx.get(
            f"{base}/jobs/{job['id']}/logs"
        ).text
        assert time.monotonic() < deadline
        time.sleep(0.2)
    running = httpx.get(f"{base}/jobs/{job['id']}").json()
    assert running["executor"] == "ray"
    prefix = f"{base}/notebooks/{job['id']}/"
    kernel = start_kernel(prefix, {})
    said = run_cell(prefix, kernel, "import os; print(os.getcwd()); 6 * 7", {})
    assert (said["status"], said["result"]) == ("ok", "42"), said
    assert "/notebooks/" in said["stdout"]  # the owner's notebook home
    assert httpx.post(f"{base}/jobs/{job['id']}/cancel").status_code == 200
    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/jobs/{job['id']}").json()["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.2)
