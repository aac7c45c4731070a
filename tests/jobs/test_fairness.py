"""Fair shares between users (dominant resource fairness) on top of priorities, the starvation
guard of backfill, and each queued job's place and estimated start."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.errors import IllegalTransition
from modelport.jobs.domain import Job, JobStatus, Resources, utcnow
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.fairness import Capacity, estimated_start, fair_order, recent_usage
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore

T0 = utcnow() - timedelta(hours=1)
GPUS = Capacity(cpu=16, gpu=8)


def job(owner: str, n: int, *, gpu: int = 1, cpu: float = 1, priority: int = 0) -> Job:
    return Job(
        id=f"{owner}{n:03d}",
        model="m",
        model_spec="m:M",
        owner=owner,
        priority=priority,
        resources=Resources(cpu=cpu, gpu=gpu),
        created_at=T0 + timedelta(seconds=n),
    )


def owners(order: list[Job]) -> str:
    return "".join(j.owner or "-" for j in order)


def test_a_burst_of_one_user_does_not_hold_the_queue() -> None:
    burst = [job("a", n) for n in range(20)]  # a submitted 20 first
    others = [job(o, 100 + n) for o in "bcd" for n in range(3)]

    order = fair_order(burst + others, [], GPUS)

    assert owners(order[:8]) == "abcdabcd"  # the first 8 GPUs: two each
    assert owners(order[8:12]) == "abcd"
    assert owners(order[12:]) == "a" * 17  # then a alone, once the others have nothing queued
    assert [j.id for j in order if j.owner == "a"] == [j.id for j in burst]  # oldest first


def test_what_runs_counts_against_its_owner() -> None:
    running = [job("a", n) for n in range(4)]  # a holds 4 of 8 GPUs
    queued = [job("a", 10), job("b", 11), job("b", 12), job("b", 13), job("b", 14), job("a", 15)]

    order = fair_order(queued, running, GPUS)

    assert owners(order) == "bbbbaa"  # b catches up to a's share first


def test_the_dominant_resource_decides() -> None:
    # c runs CPU-heavy work (8 of 16 CPUs = 0.5), g one GPU job (1 of 8 GPUs = 0.125)
    running = [job("c", 0, gpu=0, cpu=8), job("g", 1, gpu=1, cpu=1)]
    queued = [job("c", 10, gpu=0, cpu=1), job("g", 11, gpu=1, cpu=1)]

    assert owners(fair_order(queued, running, GPUS)) == "gc"


def test_between_equal_shares_who_used_less_lately_goes_first() -> None:
    running = [job("a", 0), job("b", 1)]  # one GPU each: equal shares
    queued = [job("a", 10), job("b", 11)]  # a's head is older: it would win the tie
    ended = [
        job("a", 2).model_copy(update={"started_at": T0, "finished_at": T0 + timedelta(hours=1)}),
        job("b", 3).model_copy(update={"started_at": T0, "finished_at": T0 + timedelta(hours=0.5)}),
    ]

    recent = recent_usage(ended, GPUS)

    assert recent == {"a": 3600 / 8, "b": 1800 / 8}  # one of 8 GPUs: an eighth of the time
    assert owners(fair_order(queued, running, GPUS, recent)) == "ba"
    assert owners(fair_order(queued, running, GPUS)) == "ab"


def test_priority_comes_before_fairness() -> None:
    queued = [job("a", 1), job("a", 2, priority=10), job("b", 3)]
    running = [job("a", 0)] * 4

    assert [j.id for j in fair_order(queued, running, GPUS)] == ["a002", "b003", "a001"]


def test_without_a_capacity_users_take_turns_by_number_of_jobs() -> None:
    queued = [job("a", 1), job("a", 2), job("b", 3)]

    assert [j.id for j in fair_order(queued, [], Capacity(0, 0))] == ["a001", "b003", "a002"]


def test_an_estimated_start_from_recent_durations() -> None:
    now = utcnow()
    one_gpu = Resources(cpu=1, gpu=1)

    assert estimated_start(1, one_gpu, GPUS, [], now) is None  # no history: no guess
    assert estimated_start(1, one_gpu, GPUS, [60, 100, 80], now) == now + timedelta(seconds=80)
    assert estimated_start(8, one_gpu, GPUS, [60], now) == now + timedelta(seconds=60)
    assert estimated_start(9, one_gpu, GPUS, [60], now) == now + timedelta(seconds=120)
    four = Resources(cpu=1, gpu=4)  # two at once
    assert estimated_start(3, four, GPUS, [60], now) == now + timedelta(seconds=120)


# -- the scheduler, with a real executor and real training processes -----------------------------


def submit(store: JobStore, owner: str, created_ago: float, cpu: float = 1, gpu: int = 0) -> Job:
    return store.create(
        Job(
            model="trainer",
            model_spec="trainer",
            owner=owner,
            args={"epochs": 200, "sleep": 0.05},
            resources=Resources(cpu=cpu, gpu=gpu),
            created_at=utcnow() - timedelta(seconds=created_ago),
        )
    )


def stop(store: JobStore, executor: LocalExecutor) -> None:
    for job_id in executor.shutdown():
        with contextlib.suppress(IllegalTransition):  # its watcher may record its end first
            store.transition(job_id, JobStatus.CANCELLED, finished_at=utcnow())


@pytest.mark.slow
def test_the_scheduler_hands_gpus_out_fairly(store: JobStore, tmp_path: Path) -> None:
    executor = LocalExecutor(store, cpus=8, gpus=4, cancel_grace=0.5)
    scheduler = Scheduler(store, executor)
    for n in range(8):
        submit(store, "a", 100 - n, gpu=1)  # a's burst came first
    for owner in "bcd":
        submit(store, owner, 50, gpu=1)
    try:
        assert scheduler.tick() == 4
        started = Counter(j.owner for j in store.running())
        assert started == {"a": 1, "b": 1, "c": 1, "d": 1}
        assert sorted({g for r in executor._running.values() for g in r.gpus}) == [
            0,
            1,
            2,
            3,
        ]  # one GPU each, none twice
        view = scheduler.view
        assert sorted(view.positions.values()) == list(range(1, 8))  # a's 7 others wait
    finally:
        stop(store, executor)


@pytest.mark.slow
def test_a_starved_big_job_stops_backfill_behind_it(store: JobStore, tmp_path: Path) -> None:
    executor = LocalExecutor(store, cpus=2, gpus=0, cancel_grace=0.5)
    scheduler = Scheduler(store, executor, starvation_limit=60)
    small = submit(store, "s", 500, cpu=1)
    assert scheduler.tick() == 1  # 1 of 2 CPUs in use
    big = submit(store, "b", 120, cpu=2)  # has waited 2 minutes: past the limit
    late = submit(store, "s", 10, cpu=1)
    try:
        assert scheduler.tick() == 0  # late would fit, but the big one waits ahead of it
        assert store.get(late.id).status is JobStatus.QUEUED
        assert scheduler.view.positions == {big.id: 1, late.id: 2}

        scheduler.starvation_limit = 600  # the same queue, not starved yet: backfill
        assert scheduler.tick() == 1
        assert store.get(late.id).status is JobStatus.RUNNING
    finally:
        stop(store, executor)
    assert store.get(small.id).attempts == 1  # it ran all along


@pytest.mark.slow
def test_the_job_api_shows_a_queued_jobs_place(store: JobStore, tmp_path: Path) -> None:
    executor = LocalExecutor(store, cpus=1, gpus=0, cancel_grace=0.5)
    service = JobService(store, executor, str(tmp_path / "artifacts"), cancel_grace=0.5)
    trainer = discovery.load("trainer")
    first = service.submit(trainer, RawArgs(json={"epochs": 2, "sleep": 0.05}))
    service.scheduler.tick()
    done = service.store.get(first.id)
    deadline = time.monotonic() + 60
    while not done.status.finished and time.monotonic() < deadline:
        time.sleep(0.05)
        done = service.store.get(first.id)
    assert done.status is JobStatus.SUCCEEDED  # a history to estimate from
    while executor.running_ids() and time.monotonic() < deadline:
        time.sleep(0.05)  # its process is gone: its CPU is free
    held = service.submit(trainer, RawArgs(json={"epochs": 200, "sleep": 0.05}))
    waits = [service.submit(trainer, RawArgs(json={"epochs": 1})) for _ in range(2)]
    try:
        service.scheduler.tick()  # held runs (the one CPU), the two others wait
        seen = [service.get(j.id) for j in waits]
        assert [j.queue_position for j in seen] == [1, 2]
        assert all(j.estimated_start is not None for j in seen)
        assert seen[0].estimated_start <= seen[1].estimated_start  # type: ignore[operator]
        listed = {j.id: j.queue_position for j in service.list_jobs(None).items}
        assert listed[held.id] is None  # running: no place in the queue
        assert [listed[j.id] for j in waits] == [1, 2]
    finally:
        service.stop()
