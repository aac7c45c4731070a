"""The training zygote: real forks running real jobs through their channel, on SQLite and
PostgreSQL; cancels, and the zygote's death taking its trainings with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from modelport.contract import discovery
from modelport.jobs.channel import serve_channel
from modelport.jobs.domain import Job, JobStatus, utcnow
from modelport.jobs.store import JobStore
from modelport.jobs.zygote import Forked, Zygote

pytestmark = pytest.mark.slow

ZYGOTE = "modelport.jobs.zygote"


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    made = Zygote(sys.executable, base | {"PYTHONPATH": os.pathsep.join(sys.path)})
    yield made
    made.close()


def zygotes() -> list[psutil.Process]:
    """This process's zygotes."""
    return [p for p in psutil.Process().children() if ZYGOTE in " ".join(p.cmdline())]


def running_job(store: JobStore, **args: object) -> Job:
    job = store.create(Job(model="trainer", model_spec=discovery.load("trainer").spec, args=args))
    return store.transition(job.id, JobStatus.RUNNING, started_at=utcnow(), attempts=1)


def fork(store: JobStore, zygote: Zygote, job: Job) -> tuple[Forked, int]:
    """Fork ``job``'s training, its channel served here; the forked one and its cancel fd."""
    ours, theirs = socket.socketpair()
    cancel_read, cancel_write = os.pipe()
    threading.Thread(target=serve_channel, args=(ours, store, job.id), daemon=True).start()
    env = {"PYTHONPATH": os.pathsep.join(sys.path), "HOME": os.environ.get("HOME", "/")}
    try:
        return zygote.fork(job.id, env, theirs.fileno(), cancel_read), cancel_write
    finally:
        theirs.close()
        os.close(cancel_read)


def wait_for(check: Callable[[], bool], limit_s: float = 20) -> bool:
    deadline = time.monotonic() + limit_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def test_forks_run_jobs_to_their_end_and_one_zygote_serves_them_all(
    store: JobStore, zygote: Zygote
) -> None:
    for epochs in (1, 2):
        job = running_job(store, epochs=epochs)
        forked, cancel = fork(store, zygote, job)
        assert forked.wait() == 0
        os.close(cancel)
        done = store.get(job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        assert done.result == {"final_loss": 0.5**epochs, "epochs": epochs}
        assert f"epoch {epochs}/{epochs}" in "\n".join(store.logs(job.id))
        assert len(zygotes()) == 1


def test_a_cancel_stops_a_fork_as_its_sigterm_would(store: JobStore, zygote: Zygote) -> None:
    job = running_job(store, epochs=3, sleep=2.0)
    forked, cancel = fork(store, zygote, job)
    assert wait_for(lambda: psutil.pid_exists(forked.pid))
    time.sleep(0.5)  # inside its first sleep
    os.write(cancel, b"c")
    assert forked.wait() == 143
    os.close(cancel)
    assert "training stopped (SIGTERM" in "\n".join(store.logs(job.id))


def test_forks_die_with_their_zygote_and_the_next_fork_gets_a_new_one(
    store: JobStore, zygote: Zygote
) -> None:
    job = running_job(store, epochs=1, sleep=30.0)
    forked, cancel = fork(store, zygote, job)
    [first] = zygotes()
    first.send_signal(signal.SIGKILL)
    assert forked.wait() == -signal.SIGKILL
    os.close(cancel)
    assert wait_for(lambda: not psutil.pid_exists(forked.pid) or _zombie(forked.pid))

    again = running_job(store, epochs=1)
    forked, cancel = fork(store, zygote, again)
    assert forked.wait() == 0
    os.close(cancel)
    assert [p.pid for p in zygotes()] != [first.pid]


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_trainings_code_imports_nothing_of_the_database() -> None:
    # what every training process imports (~0.3 s of a core more with SQLAlchemy), and what a
    # zygote preloads: its channel, not the job store
    check = "import modelport.jobs.zygote, sys; print('sqlalchemy' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", check], check=False, capture_output=True, text=True
    )
    assert found.stdout.strip() == "False", found.stderr
