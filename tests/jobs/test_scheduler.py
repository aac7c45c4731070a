"""The scheduler's loop: it looks at the queue only when something changed, on any replica."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from modelport.errors import IllegalTransition
from modelport.jobs.domain import Job, JobStatus, Resources, utcnow
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.store import JobStore

WAITS = Resources(cpu=64)  # more than the executor has: stays queued


def wait_for(check: Callable[[], bool], limit_s: float = 20) -> bool:
    deadline = time.monotonic() + limit_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def test_an_unchanged_queue_is_not_read_again_and_a_change_anywhere_is(
    open_engine: Callable[[], Engine], tmp_path: Path
) -> None:
    here = JobStore(open_engine(), replica="here")
    elsewhere = JobStore(open_engine(), replica="elsewhere")  # another replica's view
    for _ in range(3):
        here.create(Job(model="m", model_spec="m", resources=WAITS))
    scheduler = Scheduler(here, LocalExecutor(here, cpus=2, gpus=0, cancel_grace=1), interval=0.02)
    scheduler.start()
    try:
        assert wait_for(lambda: len(scheduler.view.positions) == 3)
        looked = scheduler.view.at
        time.sleep(0.5)  # ~25 checks of an unchanged queue
        assert scheduler.view.at == looked  # none of them read the queue

        added = elsewhere.create(Job(model="m", model_spec="m", resources=WAITS))

        assert wait_for(lambda: added.id in scheduler.view.positions)
        assert scheduler.view.positions[added.id] == 4
    finally:
        scheduler.stop()


def test_a_submission_that_cannot_start_now_does_not_make_it_look_at_once(
    open_engine: Callable[[], Engine],
) -> None:
    # each look orders the whole queue: a burst into a full executor must not cost one each
    store = JobStore(open_engine(), replica="here")
    store.create(Job(model="m", model_spec="m", resources=WAITS))
    scheduler = Scheduler(store, LocalExecutor(store, cpus=2, gpus=0, cancel_grace=1), interval=60)
    scheduler.start()
    try:
        scheduler.wake()
        assert wait_for(lambda: len(scheduler.view.positions) == 1)
        added = store.create(Job(model="m", model_spec="m", resources=WAITS))
        scheduler.wake(WAITS)  # no room for it: left to the next check (a minute away here)
        time.sleep(0.3)
        assert added.id not in scheduler.view.positions

        scheduler.wake(Resources(cpu=1))  # one that has room: looked at once
        assert wait_for(lambda: added.id in scheduler.view.positions)
    finally:
        scheduler.stop()


@pytest.mark.slow
def test_replicas_sharing_a_cluster_never_start_more_than_it_has(
    open_engine: Callable[[], Engine],
) -> None:
    # two replicas' executors on one 4-GPU cluster: each alone would see 4 free GPUs
    replicas = []
    for name in ("a", "b"):
        store = JobStore(open_engine(), replica=name)
        executor = LocalExecutor(store, cpus=16, gpus=4, cancel_grace=0.5)
        executor.shares_cluster = True  # as a Ray executor joined to a cluster's address is
        replicas.append((store, executor, Scheduler(store, executor)))
    store = replicas[0][0]
    for _ in range(12):
        store.create(
            Job(
                model="trainer",
                model_spec="trainer",
                args={"epochs": 100, "sleep": 0.05},
                resources=Resources(cpu=1, gpu=1),
            )
        )
    gate = threading.Barrier(2)

    def tick(scheduler: Scheduler) -> None:
        gate.wait()
        scheduler.tick()

    threads = [threading.Thread(target=tick, args=(s,)) for _, _, s in replicas]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        running = store.running()
        assert len(running) == 4  # not 8: the second replica saw what the first started
        assert {j.lease_owner for j in running} <= {"a", "b"}
    finally:
        for job_store, executor, _ in replicas:
            for job_id in executor.shutdown():
                with contextlib.suppress(IllegalTransition):
                    job_store.transition(job_id, JobStatus.CANCELLED, finished_at=utcnow())
