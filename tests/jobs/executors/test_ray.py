"""The Ray executor on a real local Ray cluster (2 CPUs, 2 logical GPUs), one for the module."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.db import connect
from modelport.errors import InvalidInput
from modelport.jobs.domain import Job, JobStatus, Resources
from modelport.jobs.executors.ray import TASK_PREFIX, RayExecutor
from modelport.jobs.service import SERVER_STOPPED, JobService
from modelport.jobs.store import JobStore
from tests.conftest import FIXTURE_SITE

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
GRACE = 1.0
PROC = Path("/proc")


@dataclass
class Cluster:
    store: JobStore
    executor: RayExecutor
    service: JobService


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("ray-jobs")
    url = f"sqlite:///{root}/db.sqlite"
    store = JobStore(connect(url))
    holder: list[JobService] = []
    executor = RayExecutor(
        store,
        address=None,
        num_cpus=2,
        num_gpus=2,
        cancel_grace=GRACE,
        on_finish=lambda _: holder[0].scheduler.wake(),
    )
    service = JobService(store, executor, str(root / "artifacts"), cancel_grace=GRACE)
    holder.append(service)
    service.start()
    yield Cluster(store, executor, service)
    service.stop()
    assert not ray.is_initialized(), "the executor started the cluster: it stops it"


def submit(
    cluster: Cluster, *, cpu: float = 1, gpu: int = 0, memory_mb: int | None = None, **args: object
) -> Job:
    return cluster.service.submit(
        discovery.load("trainer"),
        RawArgs(json=args),
        resources=Resources(cpu=cpu, gpu=gpu, memory_mb=memory_mb),
    )


def wait(store: JobStore, job_id: str, until: Callable[[Job], bool], limit_s: float = 30) -> Job:
    deadline = time.monotonic() + limit_s
    while True:
        job = store.get(job_id)
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def finished(job: Job) -> bool:
    return job.status.finished


def task_pids(job_id: str) -> list[int]:
    """Processes titled ``ray::modelport-job-<id>``: the job's Ray worker while it runs the task."""
    title = f"ray::{TASK_PREFIX}{job_id}".encode()
    pids = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(title):
                pids.append(int(entry.name))
    return pids


def alive(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_job_succeeds_with_result_progress_metrics_logs_and_artifact(cluster: Cluster) -> None:
    # the test models are importable only through this process's sys.path (tests/conftest.py)
    assert str(FIXTURE_SITE) not in os.environ.get("PYTHONPATH", "")
    sigterm = signal.getsignal(signal.SIGTERM)
    job = submit(cluster, epochs=2, sleep=0.05)  # starts the cluster
    assert signal.getsignal(signal.SIGTERM) == sigterm, "ray.init's SIGTERM handler was kept"
    done = wait(cluster.store, job.id, finished)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.result == {"final_loss": 0.25, "epochs": 2}
    assert done.progress == 1.0
    assert done.executor == "ray"
    assert done.executor_ref is not None
    assert done.executor_ref.startswith("ray:")
    assert [m.value for m in cluster.store.metrics(job.id) if m.name == "loss"] == [0.5, 0.25]
    logs = cluster.store.logs(job.id)
    assert "epoch 1/2 loss=0.5" in logs
    assert "epoch 2/2 loss=0.25" in logs
    assert [a["name"] for a in cluster.service.artifacts(job.id)] == ["weights.json"]


def test_failing_training_is_failed_with_its_error_and_traceback(cluster: Cluster) -> None:
    job = submit(cluster, epochs=1, fail=True)
    done = wait(cluster.store, job.id, finished)
    assert done.status is JobStatus.FAILED
    assert done.error == "RuntimeError: diverged at the last epoch"
    logs = cluster.store.logs(job.id)
    assert "about to fail" in logs
    assert "Traceback (most recent call last):" in logs
    assert "RuntimeError: diverged at the last epoch" in logs


def test_crashed_worker_is_failed_with_a_reason(cluster: Cluster) -> None:
    job = submit(cluster, epochs=1, crash=True)
    done = wait(cluster.store, job.id, finished)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert "training process died" in done.error


def test_cancel_interrupts_a_blocked_training_and_its_process_ends(cluster: Cluster) -> None:
    # the first epoch reports after 2 s; the cancel then finds the training inside sleep(2)
    job = submit(cluster, epochs=3, sleep=2.0)
    running = wait(cluster.store, job.id, lambda j: j.progress > 0 or j.status.finished)
    assert running.status is JobStatus.RUNNING
    pids = task_pids(job.id) if PROC.is_dir() else []
    assert pids or not PROC.is_dir()

    asked = time.monotonic()
    assert cluster.executor.cancel("no-such-job") is False
    cancelled = cluster.service.cancel(job.id, wait=5)
    took = time.monotonic() - asked
    assert cancelled.status is JobStatus.CANCELLED
    # within the grace: the interrupt became the worker's SIGTERM and woke the sleep; no kill
    assert took < GRACE, f"cancel took {took:.2f} s"
    assert "training stopped (SIGTERM: cancelled, or the server is stopping)" in cluster.store.logs(
        job.id
    )
    while any(alive(pid) for pid in pids) and time.monotonic() - asked < 2:
        time.sleep(0.02)
    assert not [pid for pid in pids if alive(pid)], "the task's worker outlived the cancel by 2 s"
    assert wait(cluster.store, job.id, lambda _: job.id not in cluster.executor.running_ids())


def test_gpu_jobs_wait_for_the_gpus_and_too_many_are_refused(cluster: Cluster) -> None:
    with pytest.raises(InvalidInput) as refused:
        submit(cluster, gpu=3)
    assert "resources" in refused.value.errors
    assert "asks for 3 GPUs; the Ray cluster has 2" in refused.value.errors["resources"][0]

    first = submit(cluster, gpu=2, epochs=2, sleep=0.1)
    second = submit(cluster, gpu=2, epochs=2, sleep=0.1)
    one = wait(cluster.store, first.id, finished)
    two = wait(cluster.store, second.id, finished)
    assert one.status is two.status is JobStatus.SUCCEEDED
    assert one.finished_at is not None
    assert two.started_at is not None
    assert two.started_at >= one.finished_at


def test_memory_is_reserved_on_ray_and_too_much_is_refused(cluster: Cluster) -> None:
    total = ray.cluster_resources()["memory"]
    with pytest.raises(InvalidInput) as refused:
        submit(cluster, memory_mb=int(total // MIB) + 1)
    assert "MB of memory" in refused.value.errors["resources"][0]

    job = submit(cluster, memory_mb=300, epochs=4, sleep=0.5)
    wait(cluster.store, job.id, lambda j: j.progress > 0 or j.status.finished)
    reserved = total - ray.available_resources().get("memory", 0.0)
    done = wait(cluster.store, job.id, finished)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert reserved >= 300 * MIB


def test_stopping_the_service_ends_running_tasks_and_the_local_cluster(cluster: Cluster) -> None:
    # last: it stops the cluster (a later test would start another one on demand)
    job = submit(cluster, epochs=3, sleep=2.0)
    wait(cluster.store, job.id, lambda j: j.progress > 0 or j.status.finished)
    cluster.service.stop()
    stopped = cluster.store.get(job.id)
    assert stopped.status is JobStatus.FAILED
    assert stopped.error == SERVER_STOPPED
    assert "training stopped (SIGTERM: cancelled, or the server is stopping)" in cluster.store.logs(
        job.id
    )
    assert cluster.executor.running_ids() == []
    assert not ray.is_initialized()
