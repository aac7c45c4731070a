"""JobStore on a real database: every test runs on SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event

from modelport.auth.quotas import Usage
from modelport.errors import IllegalTransition, NotFound, QuotaExceeded
from modelport.jobs.domain import EventKind, Job, JobEvent, JobKind, JobStatus, Resources, utcnow
from modelport.jobs.store import JobStore

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def make_job(**fields: Any) -> Job:
    """A job with the required fields filled in."""
    fields.setdefault("model", "iris")
    fields.setdefault("model_spec", "modelport.examples.iris:IrisClassifier")
    return Job(**fields)


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.utcoffset() == timedelta(0), value


def is_postgresql(store: JobStore) -> bool:
    return store.engine.dialect.name == "postgresql"


# -- records ---------------------------------------------------------------------------------


def test_create_and_get_round_trip_every_field(store: JobStore) -> None:
    job = make_job(
        version="1.2.0",
        args={
            "data": "s3://bucket/train.csv",
            "epochs": 3,
            "lr": 0.001,
            "layers": [64, {"activation": "relu", "dropout": None}],
            "options": {"shuffle": True, "seed": 42, "tags": ["a", "ü"], "nested": {"deep": [[]]}},
        },
        owner="alice@example.org",
        priority=7,
        resources=Resources(cpu=2.5, gpu=1, memory_mb=2048),
        max_attempts=3,
        attempts=1,
        created_at=T0,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(minutes=5, microseconds=7),
        progress=0.75,
        progress_message="epoch 3/4",
        result={"final_loss": 0.125, "history": [1.0, 0.5, 0.25], "best": {"epoch": 3}, "x": None},
        error="not really",
        executor="local",
        executor_ref="pid:1234",
        cancel_requested=True,
        artifacts_url="file:///tmp/artifacts/x",
        retry_of="f" * 32,
        dismissed_at=datetime(2024, 1, 2, 4, tzinfo=UTC),
        shown_args={"x": [1, 2], "data": "/srv/data/processed/demo"},
        model_dir="/data/models/m/1.0.0",
        lease_owner="replica-a:5000",
        lease_expires_at=T0 + timedelta(seconds=30, microseconds=3),
        kind=JobKind.NOTEBOOK,
    )
    # every field is set to something other than its default, so a dropped column shows
    defaults = make_job()
    unset = {n for n in Job.model_fields if getattr(job, n) == getattr(defaults, n)}
    # computed when read (the queue's order), never stored
    assert unset == {"model", "model_spec", "status", "queue_position", "estimated_start"}

    assert store.create(job) == job
    got = store.get(job.id)
    assert got == job
    assert got.model_dump() == job.model_dump()
    assert isinstance(got.resources, Resources)
    for value in (got.created_at, got.started_at, got.finished_at):
        assert_utc(value)


def test_create_with_defaults(store: JobStore) -> None:
    job = store.create(make_job())
    got = store.get(job.id)
    assert got == job
    assert got.status is JobStatus.QUEUED
    assert got.result is None
    assert got.started_at is got.finished_at is None
    assert_utc(got.created_at)


def test_result_round_trips_any_json(store: JobStore) -> None:
    results = [[1, "two", {"three": 3}], "done", 42, 0.5, True, {}, None]
    for result in results:
        job = store.create(make_job())
        store.transition(job.id, JobStatus.RUNNING)
        store.transition(job.id, JobStatus.SUCCEEDED, result=result)
        assert store.get(job.id).result == result


def test_create_writes_the_first_status_event(store: JobStore) -> None:
    job = store.create(make_job())
    [first] = store.events(job.id)
    assert (first.job_id, first.kind, first.data) == (
        job.id,
        EventKind.STATUS,
        {"status": "queued"},
    )
    assert_utc(first.at)


def test_get_unknown_is_not_found(store: JobStore) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.get("nope")


def test_transition_and_cancel_of_an_unknown_job_are_not_found(store: JobStore) -> None:
    with pytest.raises(NotFound):
        store.transition("0" * 32, JobStatus.RUNNING)
    with pytest.raises(NotFound):
        store.request_cancel("0" * 32)


def test_a_non_utc_timestamp_keeps_its_instant(store: JobStore) -> None:
    paris = timezone(timedelta(hours=2))
    job = store.create(make_job(created_at=datetime(2026, 6, 1, 12, tzinfo=paris)))
    started = datetime(2026, 6, 1, 12, 30, tzinfo=paris)
    store.transition(job.id, JobStatus.RUNNING, started_at=started)
    got = store.get(job.id)
    assert got.created_at == job.created_at
    assert got.started_at == started


# -- find and queued -------------------------------------------------------------------------


@pytest.fixture
def catalog(store: JobStore) -> list[Job]:
    """Eight jobs, created a minute apart (oldest first), over two models, owners and states."""
    jobs = []
    for i in range(8):
        job = make_job(
            model="iris" if i % 2 == 0 else "plants",
            owner="alice" if i < 5 else "bob",
            created_at=T0 + timedelta(minutes=i),
        )
        jobs.append(store.create(job))
    for i in (1, 2, 6):
        store.transition(jobs[i].id, JobStatus.RUNNING)
    store.transition(jobs[2].id, JobStatus.SUCCEEDED)
    store.transition(jobs[3].id, JobStatus.FAILED, error="boom")
    return [store.get(j.id) for j in jobs]


def ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs]


def test_find_everything_newest_first(store: JobStore, catalog: list[Job]) -> None:
    page = store.find()
    assert page.total == 8
    assert page.items == catalog[::-1]


FILTERS: list[tuple[dict[str, Any], list[int]]] = [
    ({"model": "iris"}, [6, 4, 2, 0]),
    ({"model": "plants"}, [7, 5, 3, 1]),
    ({"model": "unknown"}, []),
    ({"owner": "bob"}, [7, 6, 5]),
    ({"status": [JobStatus.QUEUED]}, [7, 5, 4, 0]),
    ({"status": [JobStatus.RUNNING]}, [6, 1]),
    ({"status": [JobStatus.SUCCEEDED, JobStatus.FAILED]}, [3, 2]),
    ({"status": [JobStatus.CANCELLED]}, []),
    ({"status": []}, [7, 6, 5, 4, 3, 2, 1, 0]),
    ({"model": "iris", "owner": "alice"}, [4, 2, 0]),
    ({"model": "iris", "status": [JobStatus.QUEUED], "owner": "alice"}, [4, 0]),
]


def test_find_filters(store: JobStore, catalog: list[Job]) -> None:
    # one database for every case: creating one per case would double the suite's time
    for filters, expected in FILTERS:
        page = store.find(**filters)
        assert ids(page.items) == [catalog[i].id for i in expected], filters
        assert page.total == len(expected), filters


def test_find_limit_and_offset(store: JobStore, catalog: list[Job]) -> None:
    newest_first = ids(catalog[::-1])
    assert ids(store.find(limit=3).items) == newest_first[:3]
    assert ids(store.find(limit=3, offset=3).items) == newest_first[3:6]
    last = store.find(limit=3, offset=6)
    assert ids(last.items) == newest_first[6:]
    assert last.total == 8  # total ignores the page
    beyond = store.find(offset=8)
    assert (beyond.items, beyond.total) == ([], 8)
    filtered = store.find(model="iris", limit=1, offset=1)
    assert (ids(filtered.items), filtered.total) == ([catalog[4].id], 4)


def test_find_pages_are_stable_when_created_at_ties(store: JobStore) -> None:
    created = {store.create(make_job(created_at=T0)).id for _ in range(7)}
    pages = [ids(store.find(limit=2, offset=o).items) for o in range(0, 8, 2)]
    seen = [i for page in pages for i in page]
    assert sorted(seen) == sorted(created)  # every job once: no duplicates, no gaps


def test_queued_by_priority_then_age(store: JobStore) -> None:
    def add(priority: int, minute: int) -> Job:
        return store.create(make_job(priority=priority, created_at=T0 + timedelta(minutes=minute)))

    low_old, high_new, mid, high_old, low_new = (
        add(0, 0),
        add(5, 4),
        add(1, 2),
        add(5, 1),
        add(0, 3),
    )
    negative = add(-3, -10)
    running = add(9, -20)
    store.transition(running.id, JobStatus.RUNNING)
    cancelled = add(9, -30)
    store.transition(cancelled.id, JobStatus.CANCELLED)

    assert ids(store.queued()) == ids([high_old, high_new, mid, low_old, low_new, negative])


def test_queued_when_empty(store: JobStore) -> None:
    assert store.queued() == []


# -- transitions -----------------------------------------------------------------------------


def test_transition_sets_fields_and_records_an_event(store: JobStore) -> None:
    job = store.create(make_job())
    started = T0 + timedelta(hours=1)
    running = store.transition(
        job.id, JobStatus.RUNNING, started_at=started, executor="local", attempts=1
    )
    assert running.status is JobStatus.RUNNING
    assert (running.started_at, running.executor, running.attempts) == (started, "local", 1)
    assert running == store.get(job.id)

    failed = store.transition(
        job.id, JobStatus.FAILED, finished_at=started + timedelta(seconds=3), error="OOM"
    )
    assert (failed.status, failed.error) == (JobStatus.FAILED, "OOM")
    assert failed.finished_at == started + timedelta(seconds=3)
    assert failed.started_at == started  # untouched fields are kept

    statuses = store.events(job.id, kinds=[EventKind.STATUS])
    assert [e.data for e in statuses] == [
        {"status": "queued"},
        {"status": "running"},
        {"status": "failed", "error": "OOM"},
    ]


def test_retry_moves_running_back_to_queued(store: JobStore) -> None:
    job = store.create(make_job(max_attempts=2))
    store.transition(job.id, JobStatus.RUNNING, started_at=T0, executor_ref="pid:1", attempts=1)
    again = store.transition(job.id, JobStatus.QUEUED, started_at=None, executor_ref=None)
    assert (again.status, again.started_at, again.executor_ref) == (JobStatus.QUEUED, None, None)
    assert again.attempts == 1
    assert ids(store.queued()) == [job.id]


ILLEGAL: list[tuple[list[JobStatus], JobStatus]] = [
    ([JobStatus.RUNNING, JobStatus.SUCCEEDED], JobStatus.RUNNING),
    ([JobStatus.RUNNING, JobStatus.SUCCEEDED], JobStatus.FAILED),
    ([JobStatus.CANCELLED], JobStatus.QUEUED),
    ([JobStatus.FAILED], JobStatus.RUNNING),
    ([], JobStatus.SUCCEEDED),
    ([], JobStatus.QUEUED),
    ([JobStatus.RUNNING], JobStatus.RUNNING),
]


def test_illegal_transition_leaves_the_record_unchanged(store: JobStore) -> None:
    for path, illegal in ILLEGAL:
        job = store.create(make_job())
        for status in path:
            store.transition(job.id, status, finished_at=T0 if status.finished else None)
        before, events_before = store.get(job.id), store.events(job.id)

        with pytest.raises(IllegalTransition):
            store.transition(job.id, illegal, error="should not be written", progress=0.5)

        assert store.get(job.id) == before, (path, illegal)
        assert store.events(job.id) == events_before, (path, illegal)


def test_racing_to_start_a_job_exactly_one_wins(store: JobStore) -> None:
    contenders = 4
    for _ in range(5):
        job = store.create(make_job())
        barrier = threading.Barrier(contenders)

        def start(name: str, job_id: str = job.id, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                store.transition(job_id, JobStatus.RUNNING, executor_ref=name)
            except IllegalTransition:
                return "lost"
            return name

        with ThreadPoolExecutor(contenders) as pool:
            outcomes = list(pool.map(start, [f"worker-{i}" for i in range(contenders)]))

        winners = [o for o in outcomes if o != "lost"]
        assert len(winners) == 1, outcomes
        got = store.get(job.id)
        assert (got.status, got.executor_ref) == (JobStatus.RUNNING, winners[0])
        running = [e for e in store.events(job.id) if e.data == {"status": "running"}]
        assert len(running) == 1


def test_racing_to_finish_a_job_exactly_one_wins(store: JobStore) -> None:
    job = store.create(make_job())
    store.transition(job.id, JobStatus.RUNNING)
    barrier = threading.Barrier(3)

    def finish(status: JobStatus) -> JobStatus | None:
        barrier.wait()
        try:
            store.transition(job.id, status, finished_at=T0)
        except IllegalTransition:
            return None
        return status

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(
            pool.map(finish, [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
        )
    [winner] = [o for o in outcomes if o is not None]
    assert store.get(job.id).status is winner
    assert len(store.events(job.id, kinds=[EventKind.STATUS])) == 3  # queued, running, winner


# -- cancel ----------------------------------------------------------------------------------


def test_request_cancel_of_a_finished_job_is_illegal(store: JobStore) -> None:
    for final in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        job = store.create(make_job())
        store.transition(job.id, JobStatus.RUNNING)
        store.transition(job.id, final, finished_at=T0)

        with pytest.raises(IllegalTransition, match=final.value):
            store.request_cancel(job.id)
        assert store.get(job.id).cancel_requested is False


def test_request_cancel_flags_an_unfinished_job(store: JobStore) -> None:
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        job = store.create(make_job())
        if status is JobStatus.RUNNING:
            store.transition(job.id, status)
        flagged = store.request_cancel(job.id)
        assert (flagged.status, flagged.cancel_requested) == (status, True)
        assert store.get(job.id) == flagged
        assert store.request_cancel(job.id).cancel_requested is True  # asking twice is fine


def test_update_sets_fields_but_not_the_status_event(store: JobStore) -> None:
    job = store.create(make_job())
    store.update(job.id, executor_ref="ray:abc", artifacts_url="s3://x")
    got = store.get(job.id)
    assert (got.executor_ref, got.artifacts_url) == ("ray:abc", "s3://x")
    assert len(store.events(job.id)) == 1


# -- progress, metrics, logs, events ---------------------------------------------------------


def test_report_progress_and_message(store: JobStore) -> None:
    job = store.create(make_job())
    store.report(job.id, progress=0.25, message="epoch 1/4")
    got = store.get(job.id)
    assert (got.progress, got.progress_message) == (0.25, "epoch 1/4")

    store.report(job.id, progress=0.5)
    got = store.get(job.id)
    assert (got.progress, got.progress_message) == (0.5, "epoch 1/4")  # message kept
    store.report(job.id, message="saving")
    got = store.get(job.id)
    assert (got.progress, got.progress_message) == (0.5, "saving")  # progress kept

    progress = store.events(job.id, kinds=[EventKind.PROGRESS])
    assert [e.data for e in progress] == [
        {"progress": 0.25, "message": "epoch 1/4"},
        {"progress": 0.5, "message": None},
        {"progress": None, "message": "saving"},
    ]
    assert store.metrics(job.id) == []


def test_report_metrics_is_a_time_series(store: JobStore) -> None:
    job = store.create(make_job())
    losses = [2.5, 1.25, 0.625, 0.3125]
    for step, loss in enumerate(losses):
        store.report(job.id, metrics={"loss": loss, "accuracy": step / 4}, step=step)
    store.report(job.id, progress=1.0, metrics={"final": 7})  # no step

    points = store.metrics(job.id)
    assert [(p.name, p.value, p.step) for p in points if p.name == "loss"] == [
        ("loss", loss, step) for step, loss in enumerate(losses)
    ]
    assert [p.step for p in points if p.name == "accuracy"] == [0, 1, 2, 3]
    assert [(p.name, p.value, p.step) for p in points][-1] == ("final", 7.0, None)
    assert len(points) == 9
    times = [p.at for p in points]
    assert times == sorted(times)
    for t in times:
        assert_utc(t)
    assert store.get(job.id).progress == 1.0
    # metrics only: the progress fields stay as they were, and no progress event is written
    assert len(store.events(job.id, kinds=[EventKind.PROGRESS])) == 1


def test_metrics_are_per_job(store: JobStore) -> None:
    a, b = store.create(make_job()), store.create(make_job())
    store.report(a.id, metrics={"loss": 1.0}, step=1)
    store.report(b.id, metrics={"loss": 9.0}, step=1)
    assert [p.value for p in store.metrics(a.id)] == [1.0]
    assert [p.value for p in store.metrics(b.id)] == [9.0]


def test_append_logs_and_read_them_by_offset(store: JobStore) -> None:
    job, other = store.create(make_job()), store.create(make_job())
    lines = [("stdout" if i % 3 else "stderr", f"line {i} ✓") for i in range(25)]
    store.append_logs(job.id, lines[:10])
    store.append_logs(other.id, [("stdout", "someone else's")])
    store.append_logs(job.id, [])
    store.append_logs(job.id, lines[10:])
    store.report(job.id, progress=0.5)  # other events do not count as log lines

    texts = [text for _, text in lines]
    assert store.logs(job.id) == texts
    assert store.logs(job.id, offset=10, limit=5) == texts[10:15]
    assert store.logs(job.id, offset=20) == texts[20:]
    assert store.logs(job.id, limit=0) == []
    assert store.logs(job.id, offset=25) == []
    assert store.logs(other.id) == ["someone else's"]
    assert store.logs("0" * 32) == []

    logged = store.events(job.id, kinds=[EventKind.LOG])
    assert [(e.data["stream"], e.data["line"]) for e in logged] == lines


def test_events_are_ordered_filtered_and_resumable(store: JobStore) -> None:
    job, other = store.create(make_job()), store.create(make_job())
    store.transition(job.id, JobStatus.RUNNING)
    store.append_logs(job.id, [("stdout", "a"), ("stdout", "b")])
    store.append_logs(other.id, [("stdout", "noise")])
    store.report(job.id, progress=0.5, metrics={"loss": 1.0}, step=1)
    store.add_event(job.id, EventKind.ARTIFACT, {"name": "weights.pt", "size": 10})
    store.transition(job.id, JobStatus.SUCCEEDED)

    everything = store.events(job.id)
    event_ids = [e.id for e in everything]
    assert all(a < b for a, b in itertools.pairwise(event_ids)), event_ids
    assert {e.job_id for e in everything} == {job.id}
    assert [e.kind for e in everything] == [
        EventKind.STATUS,
        EventKind.STATUS,
        EventKind.LOG,
        EventKind.LOG,
        EventKind.PROGRESS,
        EventKind.METRIC,
        EventKind.ARTIFACT,
        EventKind.STATUS,
    ]
    for e in everything:
        assert_utc(e.at)

    # resuming from any id gives exactly the rest (SSE's Last-Event-ID)
    for i, e in enumerate(everything):
        assert store.events(job.id, after=e.id) == everything[i + 1 :]
    assert store.events(job.id, after=0) == everything

    # paging with limit and the last id seen reassembles the stream
    resumed: list[JobEvent] = []
    cursor = 0
    while page := store.events(job.id, after=cursor, limit=3):
        resumed += page
        cursor = page[-1].id
    assert resumed == everything

    statuses = store.events(job.id, kinds=[EventKind.STATUS])
    assert [e.data["status"] for e in statuses] == ["queued", "running", "succeeded"]
    later = store.events(job.id, after=statuses[1].id, kinds=[EventKind.STATUS, EventKind.LOG])
    assert [e.kind for e in later] == [EventKind.LOG, EventKind.LOG, EventKind.STATUS]

    # new events after a resume point show up on the next poll
    store.append_logs(job.id, [("stderr", "late")])
    [late] = store.events(job.id, after=everything[-1].id)
    assert late.data == {"stream": "stderr", "line": "late"}


def test_a_reader_resuming_from_the_last_id_misses_no_event(store: JobStore) -> None:
    """Two writers commit out of id order: a tailing reader must still see both events."""
    job = store.create(make_job())
    [start] = store.events(job.id)
    inserted, release = threading.Event(), threading.Event()

    def pause_the_slow_writer(*args: Any) -> None:
        # after its INSERT (its id is taken), before its COMMIT
        if threading.current_thread().name == "slow" and "INSERT INTO job_events" in args[2]:
            inserted.set()
            release.wait(10)

    def writer(line: str) -> threading.Thread:
        return threading.Thread(
            target=store.append_logs, args=(job.id, [("stdout", line)]), name=line
        )

    slow, fast = writer("slow"), writer("fast")
    event.listen(store.engine, "after_cursor_execute", pause_the_slow_writer)
    try:
        slow.start()
        assert inserted.wait(10)
        fast.start()
        fast.join(0.5)  # PostgreSQL commits it now; SQLite's single writer lock makes it wait
        seen = store.events(job.id, after=start.id)
    finally:
        release.set()
        slow.join(10)
        fast.join(10)
        event.remove(store.engine, "after_cursor_execute", pause_the_slow_writer)
    cursor = seen[-1].id if seen else start.id
    seen += store.events(job.id, after=cursor)
    assert sorted(e.data["line"] for e in seen) == ["fast", "slow"]


# -- restarts and concurrent writers ---------------------------------------------------------


def test_a_second_connect_sees_the_data(open_engine: Callable[[], Engine]) -> None:
    first = JobStore(open_engine())
    job = first.create(make_job(args={"k": [1, 2]}, created_at=T0))
    first.transition(job.id, JobStatus.RUNNING, started_at=T0)
    first.append_logs(job.id, [("stdout", "before the restart")])
    first.report(job.id, metrics={"loss": 0.5}, step=1)
    before = first.get(job.id)
    first.engine.dispose()  # the server stops

    second = JobStore(open_engine())  # migrations already applied: a no-op
    assert second.get(job.id) == before
    assert second.logs(job.id) == ["before the restart"]
    assert [(m.name, m.value, m.step) for m in second.metrics(job.id)] == [("loss", 0.5, 1)]
    last = second.events(job.id)[-1].id

    second.append_logs(job.id, [("stdout", "after the restart")])
    second.transition(job.id, JobStatus.SUCCEEDED, finished_at=T0 + timedelta(minutes=1))
    assert second.logs(job.id) == ["before the restart", "after the restart"]
    assert min(e.id for e in second.events(job.id, after=last)) > last
    assert second.find().total == 1


CHILD_WRITER = textwrap.dedent(
    """
    import sys
    from modelport.db import connect
    from modelport.jobs.store import JobStore

    url, job_id, batches, per_batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = JobStore(connect(url))
    print("ready", flush=True)
    sys.stdin.readline()  # "go": start together with the parent's threads
    for b in range(batches):
        store.append_logs(
            job_id, [("stdout", f"process {b * per_batch + i}") for i in range(per_batch)]
        )
    store.engine.dispose()
    """
)


def test_concurrent_writers_lose_no_log_line(store: JobStore, store_url: str) -> None:
    threads, batches, per_batch = 4, 25, 4
    job = store.create(make_job())
    store.transition(job.id, JobStatus.RUNNING)

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, store_url, job.id, str(batches), str(per_batch)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        ready = child.stdout.readline()
        assert ready == "ready\n", child.communicate(timeout=30)
        barrier = threading.Barrier(threads + 1)

        def write(name: str) -> None:
            barrier.wait()
            for b in range(batches):
                lines = [("stdout", f"{name} {b * per_batch + i}") for i in range(per_batch)]
                store.append_logs(job.id, lines)
                if b % 5 == 0:  # status and progress writes interleave with the logs
                    store.report(job.id, progress=b / batches, metrics={name: b}, step=b)

        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(write, f"thread-{t}") for t in range(threads)]
            barrier.wait()
            child.stdin.write("go\n")
            child.stdin.flush()
            for f in futures:
                f.result()
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

    writers = [f"thread-{t}" for t in range(threads)] + ["process"]
    count = batches * per_batch
    logs = store.logs(job.id, limit=100_000)
    assert len(logs) == len(writers) * count
    for writer in writers:
        # each writer's lines are all there, once, in the order it wrote them
        mine = [line for line in logs if line.split()[0] == writer]
        assert mine == [f"{writer} {i}" for i in range(count)]

    event_ids = [e.id for e in store.events(job.id, limit=100_000)]
    assert len(set(event_ids)) == len(event_ids)
    assert event_ids == sorted(event_ids)


# -- quota usage -------------------------------------------------------------------------------


def test_usage_counts_active_jobs_gpus_and_gpu_hours_in_the_window(store: JobStore) -> None:
    now = utcnow()
    since = now - timedelta(days=30)
    hours = timedelta(hours=1)
    # queued (1 GPU) and running for 2 h (2 GPUs): both active; the running one used 4 GPU-h
    store.create(make_job(owner="ada", resources=Resources(gpu=1)))
    running = store.create(make_job(owner="ada", resources=Resources(gpu=2)))
    store.transition(running.id, JobStatus.RUNNING, started_at=now - 2 * hours)
    # finished: 1 GPU for 3 h (3 GPU-h); 2 GPUs from 1 h before the window to 1 h in (2 of 4)
    for gpu, started, finished in (
        (1, now - 10 * hours, now - 7 * hours),
        (2, since - hours, since + hours),
        (4, now - 40 * timedelta(days=1), now - 35 * timedelta(days=1)),  # before the window
    ):
        job = store.create(make_job(owner="ada", resources=Resources(gpu=gpu)))
        store.transition(job.id, JobStatus.RUNNING, started_at=started)
        store.transition(job.id, JobStatus.SUCCEEDED, finished_at=finished)
    store.create(make_job(owner="bob", resources=Resources(gpu=8)))  # someone else's
    cpu_only = store.create(make_job(owner="ada"))
    store.transition(cpu_only.id, JobStatus.CANCELLED, finished_at=now)

    usage = store.usage("ada", since=since, now=now)
    assert usage.jobs == 2
    assert usage.gpus == 3
    assert usage.gpu_hours == pytest.approx(4 + 3 + 2)
    assert store.usage("nobody", since=since) == Usage()


def test_create_with_admit_refuses_inside_the_transaction(store: JobStore) -> None:
    seen: list[Usage] = []

    def at_most_one(usage: Usage) -> None:
        seen.append(usage)
        if usage.jobs >= 1:
            raise QuotaExceeded("one at a time")

    since = utcnow() - timedelta(days=1)
    store.create(make_job(owner="ada"), admit=at_most_one, window_start=since)
    with pytest.raises(QuotaExceeded):
        store.create(make_job(owner="ada"), admit=at_most_one, window_start=since)
    assert [u.jobs for u in seen] == [0, 1]
    assert store.find(owner="ada").total == 1


def test_concurrent_submits_cannot_both_slip_under_a_quota(store: JobStore) -> None:
    def at_most_two(usage: Usage) -> None:
        if usage.jobs >= 2:
            raise QuotaExceeded("two at a time")

    def submit(_: int) -> bool:
        try:
            store.create(make_job(owner="ada"), admit=at_most_two)
        except QuotaExceeded:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        admitted = list(pool.map(submit, range(16)))
    assert admitted.count(True) == 2
    assert store.find(owner="ada").total == 2
