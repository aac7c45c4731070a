"""bench/cluster.py, small: two replicas on one PostgreSQL, four users' bursts of GPU jobs, one
replica killed while it runs jobs. Nothing timed is asserted: every job runs to success exactly
once, never more GPUs in use than there are, and the dead replica's jobs are taken over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cluster.py"


@pytest.mark.slow
def test_jobs_run_once_within_the_gpus_when_a_replica_dies(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    command = [sys.executable, str(BENCH), "--executor", "local", "--jobs", "24"]
    command += ["--job-seconds", "1", "--gpus", "8", "--lease", "4", "--kill-at", "0.2"]
    command += ["--timeout", "240", "--out", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=400, check=False)
    assert run.returncode == 0, run.stderr[-3000:]

    result = json.loads(out.read_text())
    assert (result["jobs"], result["succeeded"]) == (24, 24), result["errors"]
    assert result["lost"] == []
    assert result["succeeded_twice"] == []
    assert result["max_gpus_in_use"] <= 8
    assert result["kill"]["held"], "r1 was killed while running jobs"
    assert "recovered_s" in result["kill"]  # its jobs were taken over by r0
    assert set(result["gpu_time_shares"]) == {"u0", "u1", "u2", "u3"}
