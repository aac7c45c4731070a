"""The job lifecycle and the job model, without a database."""

from __future__ import annotations

import itertools
import re

import pytest
from pydantic import ValidationError

from modelport.errors import Conflict, IllegalTransition
from modelport.jobs.domain import (
    FINISHED,
    TRANSITIONS,
    Job,
    JobStatus,
    Resources,
    check_transition,
    sources_of,
)

Q, R, S, F, C = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)

# Written out by hand on purpose: the table in domain.py must agree with this one.
ALLOWED = {(Q, R), (Q, C), (Q, F), (R, S), (R, F), (R, C), (R, Q)}
ALL_PAIRS = set(itertools.product(JobStatus, repeat=2))


def test_statuses_are_plain_strings() -> None:
    assert [s.value for s in JobStatus] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
    assert JobStatus("running") is R
    assert R == "running"


def test_the_transition_table_is_the_documented_one() -> None:
    assert set(TRANSITIONS) == set(JobStatus)
    assert {(old, new) for old, targets in TRANSITIONS.items() for new in targets} == ALLOWED


@pytest.mark.parametrize(("old", "new"), sorted(ALLOWED), ids=lambda s: s.value)
def test_allowed_transition(old: JobStatus, new: JobStatus) -> None:
    check_transition(old, new)
    assert old in sources_of(new)


@pytest.mark.parametrize(("old", "new"), sorted(ALL_PAIRS - ALLOWED), ids=lambda s: s.value)
def test_illegal_transition_raises(old: JobStatus, new: JobStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"{old.value}.*{new.value}"):
        check_transition(old, new)
    assert old not in sources_of(new)


def test_illegal_transition_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        check_transition(S, R)


def test_sources_of() -> None:
    assert sources_of(Q) == {R}
    assert sources_of(R) == {Q}
    assert sources_of(S) == {R}
    assert sources_of(F) == {Q, R}
    assert sources_of(C) == {Q, R}


@pytest.mark.parametrize("status", list(JobStatus), ids=str)
def test_finished(status: JobStatus) -> None:
    assert status.finished is (status in {S, F, C})
    assert (status in FINISHED) is status.finished
    # a final state is final: nothing leaves it
    assert (TRANSITIONS[status] == frozenset()) is status.finished


def test_resources_defaults() -> None:
    assert Resources() == Resources(cpu=1.0, gpu=0, memory_mb=None)


@pytest.mark.parametrize(
    "fields",
    [{"cpu": 0.5}, {"cpu": 64}, {"gpu": 0}, {"gpu": 8}, {"memory_mb": 1}, {"memory_mb": None}],
    ids=repr,
)
def test_resources_accepts(fields: dict[str, object]) -> None:
    resources = Resources.model_validate(fields)
    for key, value in fields.items():
        assert getattr(resources, key) == value


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"cpu": 0}, "cpu"),
        ({"cpu": -1}, "cpu"),
        ({"gpu": -1}, "gpu"),
        ({"memory_mb": 0}, "memory_mb"),
        ({"memory_mb": -512}, "memory_mb"),
    ],
    ids=repr,
)
def test_resources_rejects(fields: dict[str, object], bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Resources.model_validate(fields)
    assert [e["loc"] for e in caught.value.errors()] == [(bad,)]


def test_job_defaults() -> None:
    job = Job(model="iris", model_spec="modelport.examples.iris:IrisClassifier")
    assert re.fullmatch(r"[0-9a-f]{32}", job.id)
    assert job.status is JobStatus.QUEUED
    assert job.resources == Resources()
    assert job.args == {}
    assert (job.priority, job.attempts, job.max_attempts, job.progress) == (0, 0, 1, 0.0)
    assert job.cancel_requested is False
    assert job.started_at is job.finished_at is job.result is job.error is None
    assert job.created_at.utcoffset() is not None
    assert job.created_at.utcoffset().total_seconds() == 0


def test_job_ids_and_mutable_defaults_are_not_shared() -> None:
    a = Job(model="m", model_spec="m:M")
    b = Job(model="m", model_spec="m:M")
    assert a.id != b.id
    a.args["x"] = 1
    assert b.args == {}


def test_job_max_attempts_is_at_least_one() -> None:
    with pytest.raises(ValidationError):
        Job(model="m", model_spec="m:M", max_attempts=0)
