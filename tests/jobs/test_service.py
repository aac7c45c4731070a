"""JobService on a real store (SQLite and PostgreSQL): enqueue, quotas, ownership of jobs,
what the edges read of a job (metrics, logs, events).

The executor is real but never started: jobs stay queued unless a test moves them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.auth.quotas import Quota, QuotaConfig
from modelport.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from modelport.jobs.domain import EventKind, Job, JobStatus, Resources, utcnow
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore

SPEC = "mp_fixtures.trainer:Trainer"
QUOTAS = QuotaConfig(
    default=Quota(max_concurrent_jobs=2, max_gpus=2, max_gpu_hours=10),
    users={"vip": Quota()},
    groups={"students": Quota(max_concurrent_jobs=1, max_gpus=0)},
)


def person(subject: str, *groups: str, roles: tuple[str, ...] = ("trainer", "user")) -> Principal:
    return Principal(subject=subject, issuer="test", roles=frozenset(roles), groups=groups)


ADA = person("ada")
BOB = person("bob")
ADMIN = person("root", roles=("admin",))


@pytest.fixture
def service(store: JobStore, tmp_path: Path) -> JobService:
    executor = LocalExecutor(store, cpus=8, gpus=8, cancel_grace=1.0)
    return JobService(store, executor, str(tmp_path / "artifacts"), quotas=QUOTAS)


def enqueue(service: JobService, principal: Principal | None, gpu: int = 0) -> Job:
    return service.enqueue(
        model="trainer",
        spec=SPEC,
        args={"epochs": 1},
        resources=Resources(gpu=gpu),
        principal=principal,
    )


def finish(service: JobService, job: Job, hours: float, status: JobStatus) -> None:
    """Record that ``job`` ran ``hours`` until a minute ago and ended in ``status``."""
    end = utcnow() - timedelta(minutes=1)
    service.store.transition(job.id, JobStatus.RUNNING, started_at=end - timedelta(hours=hours))
    service.store.transition(job.id, status, finished_at=end)


def test_enqueue_records_the_owner_and_already_validated_args(service: JobService) -> None:
    job = enqueue(service, ADA)
    stored = service.store.get(job.id)
    assert (stored.owner, stored.args, stored.model_spec) == ("test|ada", {"epochs": 1}, SPEC)
    assert stored.artifacts_url is not None
    assert stored.artifacts_url.endswith(job.id)
    explicit = service.enqueue(model="trainer", spec=SPEC, args={}, owner="gateway-user")
    assert explicit.owner == "gateway-user"
    with pytest.raises(InvalidInput, match="resources"):
        enqueue(service, ADA, gpu=9)  # more than the executor has: never runs anywhere


def test_concurrent_jobs_quota(service: JobService) -> None:
    first = enqueue(service, ADA)
    enqueue(service, ADA)
    with pytest.raises(QuotaExceeded) as refused:
        enqueue(service, ADA)
    assert refused.value.message == (
        "quota exceeded: concurrent jobs: you have 2 queued or running, the limit is 2"
    )
    enqueue(service, BOB)  # a quota is per user
    service.cancel(first.id)
    enqueue(service, ADA)  # a finished job frees its place


def test_gpu_quota_counts_gpus_of_queued_and_running_jobs(service: JobService) -> None:
    held = enqueue(service, ADA, gpu=1)
    service.store.transition(held.id, JobStatus.RUNNING, started_at=utcnow())
    with pytest.raises(QuotaExceeded) as refused:
        enqueue(service, ADA, gpu=2)
    assert refused.value.message == (
        "quota exceeded: GPUs: your queued or running jobs hold 1, this job asks for 2, "
        "the limit is 2"
    )
    enqueue(service, ADA, gpu=1)


def test_a_request_that_can_never_fit_is_forbidden(service: JobService) -> None:
    with pytest.raises(Forbidden) as never:
        enqueue(service, ADA, gpu=3)
    assert never.value.message == (
        "the job asks for 3 GPUs; your quota allows at most 2 (max_gpus) at a time"
    )
    student = person("sam", "students")
    with pytest.raises(Forbidden, match="at most 0"):
        enqueue(service, student, gpu=1)
    enqueue(service, student)
    with pytest.raises(QuotaExceeded, match="limit is 1"):
        enqueue(service, student)
    service.quotas = QuotaConfig(default=Quota(max_concurrent_jobs=0))
    with pytest.raises(Forbidden, match="no training jobs"):
        enqueue(service, BOB)


def test_gpu_hours_quota_over_the_window(service: JobService) -> None:
    old = enqueue(service, ADA, gpu=2)
    finish(service, old, hours=3, status=JobStatus.SUCCEEDED)  # 6 GPU-hours
    enqueue(service, ADA, gpu=1)  # 6 < 10
    failed = service.store.find(owner="test|ada", status=[JobStatus.QUEUED]).items[0]
    finish(service, failed, hours=4.5, status=JobStatus.FAILED)  # failures count too: 10.5
    with pytest.raises(QuotaExceeded) as refused:
        enqueue(service, ADA, gpu=1)
    assert refused.value.message == (
        "quota exceeded: GPU-hours: you used 10.50 in the last 30 days, the limit is 10"
    )
    enqueue(service, ADA)  # a CPU-only job uses no GPU-hours
    outside = enqueue(service, BOB, gpu=2)
    end = utcnow() - timedelta(days=31)
    service.store.transition(outside.id, JobStatus.RUNNING, started_at=end - timedelta(hours=9))
    service.store.transition(outside.id, JobStatus.SUCCEEDED, finished_at=end)
    enqueue(service, BOB, gpu=2)  # 18 GPU-hours, but before the window


def test_user_override_and_jobs_without_owner_are_unlimited(service: JobService) -> None:
    for _ in range(4):
        enqueue(service, person("vip"), gpu=4)
        service.enqueue(model="trainer", spec=SPEC, args={}, resources=Resources(gpu=4))


def test_retry_counts_against_the_quota(service: JobService) -> None:
    done = enqueue(service, ADA)
    finish(service, done, hours=0.1, status=JobStatus.SUCCEEDED)
    enqueue(service, ADA)
    retried = service.retry(done.id, principal=ADA)
    assert (retried.owner, retried.retry_of) == ("test|ada", done.id)
    with pytest.raises(QuotaExceeded, match="concurrent jobs"):
        service.retry(done.id, principal=ADA)


def test_only_the_owner_or_an_admin_sees_cancels_or_retries_a_job(service: JobService) -> None:
    job = enqueue(service, ADA)
    other = enqueue(service, BOB)
    missing = f"job '{job.id}' not found"
    for attempt in (
        lambda: service.get(job.id, principal=BOB),
        lambda: service.cancel(job.id, principal=BOB),
        lambda: service.retry(job.id, principal=BOB),
        lambda: service.artifacts(job.id, principal=BOB),
        lambda: service.open_artifact(job.id, "x", principal=BOB),
    ):
        with pytest.raises(NotFound) as hidden:
            attempt()
        assert hidden.value.message == missing
    assert service.get(job.id, principal=ADA).id == job.id
    assert service.get(job.id, principal=ADMIN).id == job.id
    assert [j.id for j in service.list_jobs(BOB).items] == [other.id]
    assert service.list_jobs(BOB, owner="test|ada").total == 0
    assert service.list_jobs(ADMIN).total == 2
    assert [j.id for j in service.list_jobs(ADMIN, owner="test|ada").items] == [job.id]
    assert service.list_jobs(LOCAL_PRINCIPAL).total == 2
    assert service.cancel(job.id, principal=ADMIN).status is JobStatus.CANCELLED
    assert service.retry(job.id, principal=ADA).owner == "test|ada"


def test_scopes_and_roles_of_the_caller(service: JobService) -> None:
    job = enqueue(service, ADA)
    reader = ADA.model_copy(update={"scopes": frozenset({"read"})})
    assert service.get(job.id, principal=reader).id == job.id
    with pytest.raises(Forbidden, match="'train' scope"):
        service.cancel(job.id, principal=reader)
    with pytest.raises(Forbidden, match="'train' scope"):
        service.retry(job.id, principal=reader)
    predictor = ADA.model_copy(update={"scopes": frozenset({"predict"})})
    with pytest.raises(Forbidden, match="'read' or 'train' scope"):
        service.list_jobs(predictor)
    # an admin whose token lacks the admin scope is a plain user
    scoped_admin = ADMIN.model_copy(update={"scopes": frozenset({"read"})})
    with pytest.raises(NotFound):
        service.get(job.id, principal=scoped_admin)


def record_output(service: JobService, job: Job) -> None:
    """A running job that reported a metric and wrote three log lines."""
    service.store.transition(job.id, JobStatus.RUNNING, started_at=utcnow())
    service.store.report(job.id, metrics={"loss": 0.5}, step=1)
    lines = [("stdout", "one"), ("stdout", "two"), ("stderr", "three")]
    service.store.append_logs(job.id, lines)


def test_metrics_logs_and_events_of_a_job(service: JobService) -> None:
    job = enqueue(service, ADA)
    record_output(service, job)
    for who in (ADA, ADMIN, None):
        points = service.metrics(job.id, principal=who)
        assert [(m.name, m.value, m.step) for m in points] == [("loss", 0.5, 1)]
        assert service.logs(job.id, principal=who) == ["one", "two", "three"]
        assert service.logs(job.id, offset=1, limit=1, principal=who) == ["two"]
        events = service.events(job.id, principal=who)
        assert events == service.store.events(job.id)
        assert [e.kind for e in events][:2] == [EventKind.STATUS, EventKind.STATUS]
        after = service.events(job.id, after=events[1].id, kinds=[EventKind.LOG], principal=who)
        assert [e.data["line"] for e in after] == ["one", "two", "three"]
        assert len(service.events(job.id, limit=2, principal=who)) == 2


def test_watch_reads_the_job_then_its_events(service: JobService) -> None:
    job = enqueue(service, ADA)
    seen, events = service.watch(job.id, principal=ADA)
    assert seen.status is JobStatus.QUEUED
    assert [e.data for e in events] == [{"status": "queued"}]
    assert service.watch(job.id, after=events[-1].id)[1] == []
    service.store.transition(job.id, JobStatus.RUNNING, started_at=utcnow())
    seen, more = service.watch(job.id, after=events[-1].id)
    assert seen.status is JobStatus.RUNNING
    assert [e.data for e in more] == [{"status": "running"}]


def test_what_a_job_wrote_is_hidden_as_the_job_is(service: JobService) -> None:
    job = enqueue(service, ADA)
    record_output(service, job)
    missing = f"job '{job.id}' not found"
    for attempt in (
        lambda who, job_id: service.metrics(job_id, principal=who),
        lambda who, job_id: service.logs(job_id, principal=who),
        lambda who, job_id: service.events(job_id, principal=who),
        lambda who, job_id: service.watch(job_id, principal=who),
    ):
        with pytest.raises(NotFound) as hidden:
            attempt(BOB, job.id)  # another user's job: as if it did not exist
        assert hidden.value.message == missing
        with pytest.raises(NotFound, match="job 'nope' not found"):
            attempt(None, "nope")  # even for a trusted caller
        predictor = ADA.model_copy(update={"scopes": frozenset({"predict"})})
        with pytest.raises(Forbidden, match="'read' or 'train' scope"):
            attempt(predictor, job.id)


def test_run_now_starts_a_queued_job_outside_the_scheduler(
    service: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Job] = []

    def start(job: Job) -> str:
        started.append(job)
        return "ref"

    monkeypatch.setattr(service.executor, "start", start)
    job = enqueue(service, None)
    running = service.run_now(job.id)
    assert (running.status, running.attempts, running.executor) == (JobStatus.RUNNING, 1, "local")
    assert running.started_at is not None
    assert [j.id for j in started] == [job.id]
    assert service.get(job.id).status is JobStatus.RUNNING
