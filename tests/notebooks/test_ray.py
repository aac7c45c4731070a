"""A notebook on the Ray executor: ``modelport up --executor ray`` (a local cluster) runs it as a
Ray task like a training, and the platform reaches it through the same proxy (the socket is on
the platform's node)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.notebooks.conftest import Platform
from tests.notebooks.kernel import run_cell, start_kernel
from tests.ui.test_browser_platform import start_platform, stop

pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """``up --executor ray`` with auth off: everybody is the local user."""
    data = tmp_path_factory.mktemp("notebooks-ray")
    proc, base = start_platform(data, limit_s=120, MODELPORT_EXECUTOR="ray")
    try:
        yield Platform(base, data, headers={"local": {}})
    finally:
        stop(proc)


def test_a_notebook_runs_as_a_ray_task_behind_the_same_proxy(ray_platform: Platform) -> None:
    job = ray_platform.start("local")
    assert job["kind"] == "notebook", job
    ray_platform.wait_ready("local", job["id"], limit_s=120)
    running = httpx.get(ray_platform.url(f"/jobs/{job['id']}")).json()
    assert running["executor"] == "ray"
    prefix = ray_platform.url(f"/notebooks/{job['id']}/")
    kernel = start_kernel(prefix, {})
    said = run_cell(prefix, kernel, "import os; print(os.getcwd()); 6 * 7", {})
    assert (said["status"], said["result"]) == ("ok", "42"), said
    assert "/notebooks/" in said["stdout"]  # the owner's notebook home
    assert httpx.post(ray_platform.url(f"/jobs/{job['id']}/cancel")).status_code == 200
    assert ray_platform.wait_end("local", job["id"])["status"] == "cancelled"
