"""A generated project, installed in a fresh virtual environment, passes its tests and the gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.scaffold import ProjectOptions, render_project

REPO = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.mark.slow
def test_new_project_installs_and_passes_its_tests_and_the_gate(tmp_path: Path) -> None:
    project = tmp_path / "leaf-counter"
    render_project(ProjectOptions("leaf-counter", summary="Count leaves."), project)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MODELPORT_DATA_DIR"] = str(tmp_path / "data")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    packages = ["-e", f"{REPO}[check]", "-e", f"{project}[test]"]
    if UV:  # much faster, and it reuses its cache
        run([UV, "pip", "install", "--python", str(python), *packages], tmp_path, env)
    else:
        run([str(python), "-m", "pip", "install", "-q", *packages], tmp_path, env)

    tests = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert "6 passed" in tests

    report = json.loads(
        run([str(venv / "bin" / "modelport"), "check", ".", "--json"], project, env)
    )
    assert report["passed"] is True
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["contract: train"] == "passed"
    assert statuses["lint: ruff"] == "passed"  # installed with the check extra, and clean
    assert statuses["security: bandit"] == "passed"
