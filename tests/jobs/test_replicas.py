"""Several replicas of the training facility on one database, with real training processes:
a replica starting never touches another's live jobs, a cancel reaches the job wherever it
runs, a dead replica's jobs are recovered by the others, a stale one cannot record an outcome.

Each replica is a JobService with its own name, engine and local executor; the one that dies
is a real process killed with SIGKILL (its training dies with it, as a server's does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.jobs.domain import EventKind, Job, JobStatus, Resources
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

TTL = 3.0  # seconds a lease holds: short, so a dead replica's jobs come back quickly here
Replica = Callable[[str], JobService]


@pytest.fixture
def replica(open_engine: Callable[[], Engine], tmp_path: Path) -> Iterator[Replica]:
    services: list[JobService] = []

    def make(name: str) -> JobService:
        store = JobStore(open_engine(), replica=name, lease_ttl=TTL)
        holder: list[JobService] = []
        executor = LocalExecutor(
            store, cpus=2, gpus=0, cancel_grace=1.0, on_finish=lambda _: holder[0].scheduler.wake()
        )
        service = JobService(store, executor, str(tmp_path / "artifacts"), cancel_grace=1.0)
        holder.append(service)
        service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        service.stop()


def submit(service: JobService, max_attempts: int = 1, **args: object) -> Job:
    return service.submit(
        discovery.load("trainer"),
        RawArgs(json=args),
        resources=Resources(cpu=1),
        max_attempts=max_attempts,
    )


def wait(store: JobStore, job_id: str, until: Callable[[Job], bool], limit_s: float = 60) -> Job:
    deadline = time.monotonic() + limit_s
    while not until(job := store.get(job_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return job


def running(job: Job) -> bool:
    return job.status is JobStatus.RUNNING


def finished(job: Job) -> bool:
    return job.status.finished


def statuses(service: JobService, job_id: str) -> list[str]:
    return [e.data["status"] for e in service.store.events(job_id) if e.kind is EventKind.STATUS]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_replica_starting_leaves_the_other_replicas_jobs_alone(replica: Replica) -> None:
    # the operator's report: restarting any replica SIGKILLed the other replica's running jobs
    a = replica("replica-a")
    job = wait(a.store, submit(a, epochs=40, sleep=0.1).id, running)
    assert job.lease_owner == "replica-a"
    pid = int((job.executor_ref or "pid:0").removeprefix("pid:"))

    b = replica("replica-b")  # its start recovers what is left: nothing of a's
    time.sleep(TTL)  # a's lease renewed meanwhile; b's sweep ran too

    still = b.store.get(job.id)
    assert (still.status, still.lease_owner, still.attempts) == (JobStatus.RUNNING, "replica-a", 1)
    assert alive(pid)
    assert a.executor.running_ids() == [job.id]


def test_a_cancel_sent_to_another_replica_reaches_the_job(replica: Replica) -> None:
    a = replica("replica-a")
    b = replica("replica-b")
    a.scheduler.stop()  # only a runs jobs here... b submits, a starts it
    b.scheduler.stop()
    job = submit(b, epochs=200, sleep=0.1)
    a.scheduler.tick()
    job = wait(a.store, job.id, running)
    assert job.lease_owner == "replica-a"

    b.cancel(job.id)  # b does not run it: the request travels through the database

    ended = wait(b.store, job.id, finished, limit_s=30)
    assert ended.status is JobStatus.CANCELLED
    assert a.executor.running_ids() == []


def test_a_stalled_replica_loses_its_job_and_cannot_record_its_outcome(replica: Replica) -> None:
    a = replica("replica-a")
    job = wait(a.store, submit(a, max_attempts=2, epochs=80, sleep=0.1).id, running)
    a.scheduler.stop()  # a stalls (say, its database connection hangs): nothing of it runs
    a.leases.stop()  # but its training, whose lease nobody renews now
    b = replica("replica-b")

    retried = wait(b.store, job.id, lambda j: j.attempts == 2 and j.lease_owner == "replica-b")
    assert retried.attempts == 2
    a.scheduler.start()
    a.leases.start()  # a comes back: it finds its lease gone and stops its copy
    wait(a.store, job.id, lambda _: not a.executor.running_ids(), limit_s=30)
    assert a.executor.running_ids() == []

    done = wait(b.store, job.id, finished)
    assert (done.status, done.lease_owner, done.attempts) == (JobStatus.SUCCEEDED, "replica-b", 2)
    # one outcome: a's attempt never recorded one
    assert statuses(b, job.id) == ["queued", "running", "queued", "running", "succeeded"]


REPLICA_PROGRAM = """
import sys, time
from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.jobs.domain import Resources
from modelport.jobs.setup import build_job_service
from modelport.settings import Settings

url, artifacts = sys.argv[1], sys.argv[2]
settings = Settings(
    database_url=url, artifacts_url=artifacts, replica_name="replica-a", job_lease_seconds=3
)
service = build_job_service(settings)
service.start()
job = service.submit(
    discovery.load("trainer"), RawArgs(json={"epochs": 40, "sleep": 0.1}),
    resources=Resources(cpu=1), max_attempts=2,
)
print(job.id, flush=True)
time.sleep(600)
"""


def test_a_killed_replicas_jobs_are_recovered_by_another(
    replica: Replica, store_url: str, tmp_path: Path
) -> None:
    program = [sys.executable, "-c", REPLICA_PROGRAM, store_url, str(tmp_path / "a-artifacts")]
    dead = subprocess.Popen(
        program, stdout=subprocess.PIPE, text=True, env=subprocess_env(), start_new_session=True
    )
    try:
        assert dead.stdout is not None
        job_id = dead.stdout.readline().strip()
        b = replica("replica-b")
        job = wait(b.store, job_id, running)
        assert job.lease_owner == "replica-a"

        os.killpg(dead.pid, signal.SIGKILL)  # the replica and its training die at once
        dead.wait(10)
        killed_at = time.monotonic()

        retried = wait(b.store, job_id, lambda j: j.lease_owner == "replica-b")
        recovered_in = time.monotonic() - killed_at
        done = wait(b.store, job_id, finished)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dead.pid, signal.SIGKILL)
        dead.wait(10)

    assert retried.lease_owner == "replica-b", f"not recovered {recovered_in:.1f} s after the kill"
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)
    assert statuses(b, job_id) == ["queued", "running", "queued", "running", "succeeded"]
