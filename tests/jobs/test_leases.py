"""Job leases in the store (SQLite and PostgreSQL): one replica holds a running job, only the
holder ends it, a dead replica's jobs are taken over once, cancels reach the holder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from modelport.errors import IllegalTransition
from modelport.jobs.domain import Job, JobStatus, utcnow
from modelport.jobs.store import JobStore


def _replica(open_engine: Callable[[], Engine], name: str, ttl: float = 30.0) -> JobStore:
    """A replica's view of the shared database: its own engine, its own name."""
    return JobStore(open_engine(), replica=name, lease_ttl=ttl)


@pytest.fixture
def a(open_engine: Callable[[], Engine]) -> JobStore:
    return _replica(open_engine, "replica-a:5000")


@pytest.fixture
def b(open_engine: Callable[[], Engine]) -> JobStore:
    return _replica(open_engine, "replica-b:5000")


def start(store: JobStore) -> Job:
    job = store.create(Job(model="m", model_spec="m:M", max_attempts=2))
    return store.transition(job.id, JobStatus.RUNNING, started_at=utcnow(), attempts=1)


def expire(store: JobStore, job: Job) -> None:
    """What a dead replica leaves: a running job whose lease nobody renewed."""
    store.update(job.id, lease_expires_at=utcnow() - timedelta(seconds=1))


def test_a_started_job_is_leased_to_the_replica_that_started_it(a: JobStore) -> None:
    before = utcnow()
    job = start(a)

    assert job.lease_owner == "replica-a:5000"
    assert job.lease_expires_at is not None
    assert before + timedelta(seconds=29) < job.lease_expires_at <= utcnow() + timedelta(seconds=30)


def test_only_the_holder_ends_a_running_job(a: JobStore, b: JobStore) -> None:
    job = start(a)

    with pytest.raises(IllegalTransition, match="replica replica-a:5000 holds it now"):
        b.transition(job.id, JobStatus.FAILED, finished_at=utcnow(), error="not mine")
    with pytest.raises(IllegalTransition):
        b.transition(job.id, JobStatus.QUEUED)

    done = a.transition(job.id, JobStatus.SUCCEEDED, finished_at=utcnow(), result={"ok": 1})
    assert (done.status, done.result, done.lease_owner) == (
        JobStatus.SUCCEEDED,
        {"ok": 1},
        a.replica,
    )
    assert done.lease_expires_at is None  # an ended job holds no lease


def test_renewal_extends_only_the_replicas_own_leases(a: JobStore, b: JobStore) -> None:
    mine, theirs = start(a), start(b)
    a.update(mine.id, lease_expires_at=utcnow() + timedelta(seconds=1))

    assert a.renew_leases() == {mine.id}
    assert a.get(mine.id).lease_expires_at > utcnow() + timedelta(seconds=25)  # type: ignore[operator]
    assert a.get(theirs.id).lease_expires_at == b.get(theirs.id).lease_expires_at
    assert b.renew_leases() == {theirs.id}


def test_a_live_lease_is_never_taken_over(a: JobStore, b: JobStore) -> None:
    start(a)

    assert b.take_over() == []
    assert b.take_over(own=True) == []  # own: b's name only, never a's


def test_a_dead_replicas_job_is_taken_over_and_its_stale_outcome_refused(
    a: JobStore, b: JobStore
) -> None:
    job = start(a)
    expire(a, job)

    taken = b.take_over()

    assert [(t.job.id, t.previous_owner, t.job.lease_owner) for t in taken] == [
        (job.id, a.replica, b.replica)
    ]
    # the old holder wakes up and tries to record its attempt's outcome: refused
    with pytest.raises(IllegalTransition, match="holds it now"):
        a.transition(job.id, JobStatus.SUCCEEDED, finished_at=utcnow(), result={"stale": True})
    assert a.renew_leases() == set()  # and it learns it lost the job
    requeued = b.transition(job.id, JobStatus.QUEUED, started_at=None)
    assert requeued.status is JobStatus.QUEUED
    assert requeued.result is None


def test_a_restarted_replica_takes_its_own_jobs_back_at_once(
    open_engine: Callable[[], Engine], a: JobStore
) -> None:
    job = start(a)
    restarted = _replica(open_engine, "replica-a:5000")  # the same name, a new process

    assert [t.job.id for t in restarted.take_over()] == []  # its lease is live
    assert [t.previous_owner for t in restarted.take_over(own=True)] == [a.replica]
    assert restarted.get(job.id).lease_owner == a.replica


def test_records_from_before_leases_are_recovered_by_anyone(a: JobStore, b: JobStore) -> None:
    job = start(a)
    a.update(job.id, lease_owner=None, lease_expires_at=None)

    assert [(t.job.id, t.previous_owner) for t in b.take_over()] == [(job.id, None)]


def test_replicas_racing_for_dead_jobs_take_each_one_once(
    open_engine: Callable[[], Engine], a: JobStore
) -> None:
    jobs = [start(a) for _ in range(12)]
    for job in jobs:
        expire(a, job)
    racers = [_replica(open_engine, f"replica-{i}:5000") for i in range(4)]
    taken: dict[str, list[str]] = {r.replica or "": [] for r in racers}
    gate = threading.Barrier(len(racers))

    def race(store: JobStore) -> None:
        gate.wait()
        taken[store.replica or ""] = [t.job.id for t in store.take_over()]

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    claimed = [job_id for ids in taken.values() for job_id in ids]
    assert sorted(claimed) == sorted(j.id for j in jobs)  # every job, each exactly once
    for store in racers:
        for job_id in taken[store.replica or ""]:
            assert a.get(job_id).lease_owner == store.replica


def test_a_cancel_asked_anywhere_reaches_the_holder(a: JobStore, b: JobStore) -> None:
    job = start(a)
    other = start(b)

    b.request_cancel(job.id)  # asked through replica b

    assert a.cancels_requested() == {job.id}
    assert b.cancels_requested() == set()
    b.request_cancel(other.id)
    assert b.cancels_requested() == {other.id}


def test_without_a_name_the_store_takes_no_leases(open_engine: Callable[[], Engine]) -> None:
    alone = JobStore(open_engine())
    job = start(alone)

    assert (job.lease_owner, job.lease_expires_at) == (None, None)
    assert alone.take_over() == []  # its own running jobs are not "dead replicas'"
    assert alone.renew_leases() == set()
    assert [t.job.id for t in alone.take_over(own=True)] == [job.id]  # its restart
