"""The Ray executor on a real local Ray cluster (2 CPUs, 2 logical GPUs), one for the module.

The service is started from a thread that then ends, as the server's start-up does (an AnyIO
worker thread, retired when idle): the cluster must outlive it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.db import connect
from modelport.errors import InvalidInput
from modelport.jobs.context import DATA_ROOTS_ENV
from modelport.jobs.domain import Job, JobStatus, Resources
from modelport.jobs.executors.ray import RayExecutor
from modelport.jobs.service import SERVER_STOPPED, JobService
from modelport.jobs.store import JobStore
from modelport.sandbox import choose_sandbox
from modelport.sandbox.base import SandboxSpec
from tests.conftest import FIXTURE_SITE

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")  # a dependency of Ray's

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
GRACE = 1.0
PROC = Path("/proc")
QUIET_S = 3.0  # a cluster tied to an ended thread is killed at once; this is ample to see it
RAY_SECRET = "RAY_MODELPORT_TEST_TOKEN"
HOSTILE = "mp_fixtures.hostile:Hostile"


@dataclass
class Cluster:
    store: JobStore
    executor: RayExecutor
    service: JobService
    data: Path  # the trainings' one data root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("ray-jobs")
    url = f"sqlite:///{root}/db.sqlite"
    store = JobStore(connect(url))
    data = root / "data"
    data.mkdir()
    # in the cluster's environment (its workers inherit it); a training must not see it
    os.environ[RAY_SECRET] = "s3cret"
    holder: list[JobService] = []
    executor = RayExecutor(
        store,
        worker_env={DATA_ROOTS_ENV: str(data)},  # the platform's data rules (jobs.setup)
        address=None,
        num_cpus=2,
        num_gpus=2,
        cancel_grace=GRACE,
        on_finish=lambda _: holder[0].scheduler.wake(),
    )
    service = JobService(store, executor, str(root / "artifacts"), cancel_grace=GRACE)
    holder.append(service)
    in_thread(service.start)
    yield Cluster(store, executor, service, data)
    service.stop()
    os.environ.pop(RAY_SECRET, None)
    assert not ray.is_initialized(), "the executor started the cluster: it stops it"
    assert not executor.driver.running, "its driver thread ended with it"


def in_thread(call: Callable[[], object]) -> None:
    """Run ``call`` in a thread of its own, which then ends."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def submit(
    cluster: Cluster, *, cpu: float = 1, gpu: int = 0, memory_mb: int | None = None, **args: object
) -> Job:
    return cluster.service.submit(
        discovery.load("trainer"),
        RawArgs(json=args),
        resources=Resources(cpu=cpu, gpu=gpu, memory_mb=memory_mb),
    )


def in_thread_submit(cluster: Cluster) -> Job:
    jobs: list[Job] = []
    in_thread(lambda: jobs.append(submit(cluster, epochs=1)))
    return jobs[0]


def wait(store: JobStore, job_id: str, until: Callable[[Job], bool], limit_s: float = 30) -> Job:
    deadline = time.monotonic() + limit_s
    while True:
        job = store.get(job_id)
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def finished(job: Job) -> bool:
    return job.status.finished


def training_pids(job_id: str) -> list[int]:
    """The job's training process: ``python -m modelport.jobs.worker <id>``, or a fork of a Ray
    worker's zygote (the tests run one job at a time: the zygotes' children are this job's)."""
    command = f"-m\0modelport.jobs.worker\0{job_id}\0".encode()
    zygote = b"-m\0modelport.jobs.zygote\0"
    pids = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command in cmdline:
                pids.append(int(entry.name))
            elif zygote in cmdline:
                with contextlib.suppress(psutil.Error):
                    pids += [child.pid for child in psutil.Process(int(entry.name)).children()]
    return pids


def ray_worker(pid: int) -> bool:
    """Whether ``pid`` is a Ray worker process (titled ``ray::<task or IDLE>``)."""
    try:
        return psutil.Process(pid).cmdline()[0].startswith("ray::")
    except (psutil.Error, IndexError):
        return False


def cluster_processes() -> list[psutil.Process]:
    """The Ray processes this one started: GCS, raylet, agents, workers."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            name, cmdline = process.name(), " ".join(process.cmdline())
        except psutil.Error:
            continue
        if name in {"raylet", "gcs_server"} or name.startswith("ray::") or "/ray/" in cmdline:
            found.append(process)
    return found


def loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


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
    assert "the training process was killed by SIGKILL" in done.error


def test_cancel_interrupts_a_blocked_training_and_its_process_ends(cluster: Cluster) -> None:
    # the first epoch reports after 2 s; the cancel then finds the training inside sleep(2)
    job = submit(cluster, epochs=3, sleep=2.0)
    running = wait(cluster.store, job.id, lambda j: j.progress > 0 or j.status.finished)
    assert running.status is JobStatus.RUNNING
    pids = training_pids(job.id) if PROC.is_dir() else []
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
    assert not [pid for pid in pids if alive(pid)], "the training outlived the cancel by 2 s"
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
    assert sorted(d["index"] for d in cluster.service.devices(first.id)) == ["0", "1"]

    # two one-GPU jobs at once: Ray hands each its own GPU, as the trainings report
    both = [submit(cluster, gpu=1, epochs=2, sleep=0.5) for _ in range(2)]
    for job in both:
        assert wait(cluster.store, job.id, finished).status is JobStatus.SUCCEEDED
    given = [cluster.service.devices(job.id) for job in both]
    assert sorted(d["index"] for got in given for d in got) == ["0", "1"]


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


def test_the_cluster_outlives_the_threads_that_used_it(cluster: Cluster) -> None:
    # a burst of submissions from short-lived threads (the server's are AnyIO's, retired when
    # idle), on a cluster started by one too (the fixture); then a quiet spell
    cluster.executor.connect()  # up (in whatever order the tests run)
    raylets = [p for p in cluster_processes() if p.name() == "raylet"]
    assert len(raylets) == 1
    jobs: list[Job] = []
    threads = [threading.Thread(target=lambda: jobs.append(submit(cluster))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(jobs) == 5
    for job in jobs:
        done = wait(cluster.store, job.id, finished)
        assert done.status is JobStatus.SUCCEEDED, done.error
    time.sleep(QUIET_S)
    assert alive(raylets[0].pid), "the raylet died with a thread that had called Ray"
    assert ray.is_initialized()
    after = in_thread_submit(cluster)
    done = wait(cluster.store, after.id, finished)
    assert done.status is JobStatus.SUCCEEDED, done.error


def test_the_cluster_listens_on_loopback_only(cluster: Cluster) -> None:
    cluster.executor.connect()
    processes = {p.pid: p.name() for p in cluster_processes()}
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in processes
    ]
    assert {"raylet", "gcs_server"} <= {processes[c.pid] for c in listening}
    outside = [
        f"{processes[c.pid]} on {c.laddr.ip}:{c.laddr.port}"
        for c in listening
        if not loopback(c.laddr.ip)
    ]
    assert not outside


def test_the_job_environment_reaches_the_training(cluster: Cluster) -> None:
    # the data rules come as the task's argument: reading outside the data root is refused
    (cluster.data / "train.csv").write_text("x\n1\n")
    secret = cluster.data.parent / "secret.txt"
    secret.write_text("no")
    spec = "mp_fixtures.reader:DataReader"
    read = cluster.service.enqueue(
        model="data-reader", spec=spec, args={"data": str(cluster.data / "train.csv")}
    )
    leaked = cluster.service.enqueue(model="data-reader", spec=spec, args={"data": str(secret)})
    done = wait(cluster.store, read.id, finished)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.result == {"read": "x\n1\n"}
    refused = wait(cluster.store, leaked.id, finished)
    assert refused.status is JobStatus.FAILED
    assert refused.error is not None
    assert refused.error.startswith("Forbidden: training data")


def test_trainings_run_outside_the_ray_workers_which_take_the_next_job(cluster: Cluster) -> None:
    # module code runs in a fork of the Ray worker's zygote, without Ray's variables (in its
    # environment or its parent's); the Ray worker and its zygote take the next job
    zygotes = []
    for _ in range(3):
        job = cluster.service.enqueue(model="hostile", spec=HOSTILE, args={})
        done = wait(cluster.store, job.id, finished)
        assert done.status is JobStatus.SUCCEEDED, done.error
        assert done.result is not None
        seen = done.result["env"]
        assert RAY_SECRET not in seen
        assert not [name for name in seen if name.startswith("RAY_") or "TOKEN" in name]
        parent = done.result["proc"]["ppid"]
        assert "modelport.jobs.zygote" in psutil.Process(parent).cmdline()
        assert ray_worker(psutil.Process(parent).ppid()), "the zygote is its Ray worker's"
        assert "s3cret" not in done.result["proc"]["proc"], "the zygote's environment has it"
        zygotes.append(parent)
    assert all(alive(pid) for pid in zygotes), "a zygote (or its Ray worker) exited after a job"
    assert len(set(zygotes)) < len(zygotes), "every job started a Ray worker of its own"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_confined_training_runs_in_the_platforms_sandbox_on_ray(
    cluster: Cluster, tmp_path: Path
) -> None:
    # the platform confines catalog trainings on Ray as on the local executor
    secret = tmp_path / "platform.sqlite"
    secret.write_text("the platform's database")
    executor = cluster.executor
    saved = executor.sandbox, executor.spec_for
    executor.sandbox = choose_sandbox("bwrap", forbidden=(tmp_path,))
    executor.spec_for = lambda job: SandboxSpec()
    try:
        job = cluster.service.enqueue(
            model="hostile", spec=HOSTILE, args={"targets": [str(secret)]}
        )
        done = wait(cluster.store, job.id, finished)
    finally:
        executor.sandbox, executor.spec_for = saved
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.result is not None
    assert done.result["read"][str(secret)].startswith("denied:")
    assert done.result["wrote"][f"{secret}.owned"].startswith("denied:")
    assert not (tmp_path / "platform.sqlite.owned").exists()
    # its own process tree: its "parent" is the sandbox's, whose environment is the job's
    assert "s3cret" not in str(done.result["proc"])
    assert done.result["proc"]["ppid"] == 1, "its parent is the sandbox's first process"


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
