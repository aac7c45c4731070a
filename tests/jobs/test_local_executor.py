"""The local executor and scheduler with real worker processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput
from modelport.jobs.domain import Job, JobStatus, Resources
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore

pytestmark = pytest.mark.slow

Start = Callable[..., JobService]


@pytest.fixture
def start(store: JobStore, store_url: str, tmp_path: Path) -> Iterator[Start]:
    services: list[JobService] = []

    def make(
        cpus: float = 2,
        gpus: int = 0,
        nice: int = 0,
        idle: bool = False,
        memory_mb: int = 0,
        cpu_hours: float | None = None,
    ) -> JobService:
        holder: list[JobService] = []
        executor = LocalExecutor(
            store,
            cpus=cpus,
            gpus=gpus,
            cancel_grace=1.0,
            nice=nice,
            idle_priority=idle,
            on_finish=lambda _: holder[0].scheduler.wake(),
            memory_mb=memory_mb or None,
            cpu_hours=cpu_hours,
        )
        service = JobService(store, executor, str(tmp_path / "artifacts"), cancel_grace=1.0)
        holder.append(service)
        service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        service.stop()


def submit(
    service: JobService, priority: int = 0, cpu: float = 1, gpu: int = 0, **args: object
) -> Job:
    return service.submit(
        discovery.load("trainer"),
        RawArgs(json=args),
        resources=Resources(cpu=cpu, gpu=gpu),
        priority=priority,
    )


def wait(store: JobStore, job_id: str, until: Callable[[Job], bool], limit_s: float = 30) -> Job:
    deadline = time.monotonic() + limit_s
    while True:
        job = store.get(job_id)
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def finished(job: Job) -> bool:
    return job.status.finished


def test_lifecycle_progress_metrics_logs_artifacts(start: Start, store: JobStore) -> None:
    service = start()
    job = submit(service, epochs=2, sleep=0.05)
    done = wait(store, job.id, finished)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result == {"final_loss": 0.25, "epochs": 2}
    assert done.progress == 1.0
    assert done.progress_message == "epoch 2"
    assert done.executor == "local"
    assert done.executor_ref is not None
    assert done.executor_ref.startswith("pid:")
    assert [m.value for m in store.metrics(job.id)] == [0.5, 0.25]
    assert store.logs(job.id) == ["epoch 1/2 loss=0.5", "epoch 2/2 loss=0.25"]
    assert service.artifacts(job.id) == [{"name": "weights.json", "size": len(b'{"loss": 0.25}')}]


def test_slots_and_priority_decide_the_order(start: Start, store: JobStore) -> None:
    service = start(cpus=1)
    blocker = submit(service, epochs=1, sleep=1.0)
    wait(store, blocker.id, lambda j: j.status is JobStatus.RUNNING)
    low = submit(service, priority=0, epochs=1)
    high = submit(service, priority=5, epochs=1)
    time.sleep(0.3)
    assert store.get(low.id).status is JobStatus.QUEUED, "one CPU slot: the others wait"
    assert store.get(high.id).status is JobStatus.QUEUED
    low_done, high_done = wait(store, low.id, finished), wait(store, high.id, finished)
    assert high_done.started_at is not None
    assert low_done.started_at is not None
    assert high_done.started_at < low_done.started_at, "higher priority starts first"
    assert high_done.finished_at is not None
    assert low_done.started_at >= high_done.finished_at, "never more than one at a time"


def test_gpu_slots_are_handed_out_as_devices(start: Start, store: JobStore) -> None:
    service = start(cpus=4, gpus=2)
    first = submit(service, gpu=2, epochs=1, sleep=0.5)
    second = submit(service, gpu=1, epochs=1)
    first_done, second_done = wait(store, first.id, finished), wait(store, second.id, finished)
    assert first_done.status is second_done.status is JobStatus.SUCCEEDED
    assert second_done.started_at is not None
    assert first_done.finished_at is not None
    assert second_done.started_at >= first_done.finished_at, "both GPUs were taken"
    # each training reports the devices it was given (CUDA_VISIBLE_DEVICES), into its record
    assert [d["index"] for d in service.devices(first.id)] == ["0", "1"]
    assert [d["index"] for d in service.devices(second.id)] in (["0"], ["1"])
    cpu_only = submit(service, epochs=1)
    assert wait(store, cpu_only.id, finished).status is JobStatus.SUCCEEDED
    assert service.devices(cpu_only.id) == []


def test_cancel_ends_the_process_within_two_seconds(start: Start, store: JobStore) -> None:
    service = start()
    job = submit(service, epochs=100, sleep=0.2)
    running = wait(store, job.id, lambda j: j.progress > 0)
    pid = int((running.executor_ref or "pid:0")[4:])
    started = time.monotonic()
    service.cancel(job.id, wait=3)
    assert store.get(job.id).status is JobStatus.CANCELLED
    while _alive(pid) and time.monotonic() - started < 2:
        time.sleep(0.02)
    assert not _alive(pid), "the training process is gone"
    assert time.monotonic() - started < 2


def test_training_runs_niced_below_serving(start: Start, store: JobStore) -> None:
    service = start(nice=7, idle=True)
    job = submit(service, epochs=20, sleep=0.1)
    running = wait(store, job.id, lambda j: j.progress > 0)
    pid = int((running.executor_ref or "pid:0")[4:])
    with open(f"/proc/{pid}/stat") as stat:
        nice = int(stat.read().rsplit(")", 1)[1].split()[16])
    assert nice == os.getpriority(os.PRIO_PROCESS, 0) + 7
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    service.cancel(job.id, wait=3)


def test_cancel_of_a_queued_job_is_immediate(start: Start, store: JobStore) -> None:
    service = start(cpus=1)
    blocker = submit(service, epochs=1, sleep=0.5)
    queued = submit(service, epochs=1)
    assert service.cancel(queued.id).status is JobStatus.CANCELLED
    assert wait(store, blocker.id, finished).status is JobStatus.SUCCEEDED
    assert store.get(queued.id).started_at is None


def test_a_crashed_process_fails_only_its_job(start: Start, store: JobStore) -> None:
    service = start()
    crash = submit(service, epochs=2, crash=True)
    healthy = submit(service, epochs=2, sleep=0.2)
    crashed = wait(store, crash.id, finished)
    assert crashed.status is JobStatus.FAILED
    assert crashed.error == "the training process was killed by SIGKILL (out of memory?)"
    assert store.logs(crash.id)[:2] == ["epoch 1/2 loss=0.5", "epoch 2/2 loss=0.25"]
    assert wait(store, healthy.id, finished).status is JobStatus.SUCCEEDED


def test_recovery_fails_or_requeues_jobs_of_a_dead_server(
    start: Start, store: JobStore, store_url: str
) -> None:
    lost = store.create(Job(model="trainer", model_spec="trainer", status=JobStatus.QUEUED))
    store.transition(lost.id, JobStatus.RUNNING, attempts=1, executor_ref="pid:999999999")
    retried = store.create(
        Job(model="trainer", model_spec="trainer", args={"epochs": 1}, max_attempts=2)
    )
    store.transition(retried.id, JobStatus.RUNNING, attempts=1)
    service = start()
    assert store.get(lost.id).status is JobStatus.FAILED
    assert store.get(lost.id).error == "the server stopped while the job was running"
    again = wait(store, retried.id, finished)
    assert again.status is JobStatus.SUCCEEDED
    assert again.attempts == 2
    assert service.store is store


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_memory_is_capped_per_job_within_the_executors_cap(start: Start, store: JobStore) -> None:
    service = start(gpus=1, memory_mb=2048)
    hostile = discovery.load("mp_fixtures.hostile:Hostile")

    def cap(**resources: int) -> str | None:
        job = service.submit(hostile, RawArgs(json={}), resources=Resources(**resources))
        done = wait(store, job.id, finished)
        assert done.status is JobStatus.SUCCEEDED, done.error
        found: str | None = done.result["env"].get("MODELPORT_WORKER_MEMORY_MB")
        return found

    assert cap() == "2048"  # the executor's
    assert cap(memory_mb=512) == "512"  # the job's own, smaller
    assert cap(gpu=1) is None  # CUDA maps far more address space than it uses: no RLIMIT_AS
    with pytest.raises(InvalidInput) as refused:
        service.submit(hostile, RawArgs(json={}), resources=Resources(memory_mb=4096))
    assert "at most 2048 MB (module_memory_mb)" in refused.value.errors["resources"][0]


def test_a_training_past_its_cpu_time_fails_saying_so(start: Start, store: JobStore) -> None:
    service = start(cpu_hours=2 / 3600)  # 2 s of CPU per CPU asked for
    hostile = discovery.load("mp_fixtures.hostile:Hostile")
    job = service.submit(hostile, RawArgs(json={"spin": 60}), resources=Resources(cpu=1))
    done = wait(store, job.id, finished, limit_s=40)
    assert done.status is JobStatus.FAILED
    assert done.error == (
        "CpuTimeExceeded: the training used all the CPU time it may (2 s of CPU; the "
        "platform's training_cpu_hours)"
    )
