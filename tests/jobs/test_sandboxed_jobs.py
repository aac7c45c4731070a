"""A hostile training job in the bwrap sandbox: no database, no secrets, nothing of the server.

A real job through the platform's job service (``build_job_service(confined=True)``): the job
process has no database URL, records everything through its channel, and runs confined.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from modelport.jobs.domain import JobStatus
from modelport.jobs.setup import build_job_service
from modelport.settings import Settings
from modelport.storage.userdata import area_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bwrap") is None and os.environ.get("CI") != "true",
        reason="needs bubblewrap (apt-get install bubblewrap); CI installs it",
    ),
]


def test_a_hostile_training_reaches_nothing_of_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_OIDC_CLIENT_SECRET", "server-secret")
    settings = Settings(data_dir=tmp_path / "data", sandbox="bwrap", module_memory_mb=2048)
    service = build_job_service(settings, confined=True)
    service.start()
    try:
        database = settings.data_dir / "modelport.db"
        others = settings.data_dir / "artifacts" / "someone-elses-job"
        others.mkdir(parents=True)
        (others / "weights.bin").write_bytes(b"secret weights")
        theirs = area_of(settings.user_data_dir(), "https://idp.example|someone") / "data.csv"
        theirs.parent.mkdir(parents=True)
        theirs.write_text("someone else's data")
        targets = [str(database), str(others / "weights.bin"), str(settings.data_dir), str(theirs)]
        job = service.enqueue(
            model="hostile", spec="mp_fixtures.hostile:Hostile", args={"targets": targets}
        )
        deadline = time.monotonic() + 60
        while not (job := service.get(job.id)).status.finished:
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.1)
    finally:
        service.stop()
    assert job.status is JobStatus.SUCCEEDED, (job.error, service.store.logs(job.id))
    report = job.result
    for target in targets:
        assert report["read"][target].startswith("denied: "), target
    for sibling in report["wrote"]:
        assert not Path(sibling).exists(), sibling  # nothing written outside its directories
    env = report["env"]  # only the worker's own settings: no database URL, no secret
    assert set(env) == {
        "MODELPORT_DATA_DIR",
        "MODELPORT_WORKER_ALLOWED_HOSTS",  # the rules its data= URLs follow
        "MODELPORT_WORKER_DATA_ROOTS",
        "MODELPORT_WORKER_MEMORY_MB",
        "MODELPORT_WORKER_NICE",
        "MODELPORT_WORKER_SCHED_IDLE",
        "MODELPORT_WORKER_USER_DATA",  # where its owner's data area is (only that one is bound)
    }
    assert env["MODELPORT_DATA_DIR"] == str(settings.data_dir / "state" / "hostile")
    assert report["proc"]["ppid"] == 1
    assert "server-secret" not in str(report["proc"])
    # what it may do, it did: its own artifact, its progress, metrics and log, via its channel
    assert (Path(job.artifacts_url or "") / "evidence.txt").read_text() == "a job's own artifact"
    assert job.progress == 1.0
    assert [m.name for m in service.store.metrics(job.id)] == ["loss"]
    assert "hostile training ran" in service.store.logs(job.id)
