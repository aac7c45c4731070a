"""TrainContext: progress, metrics, artifacts (fsspec) and data by URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.jobs.context import TrainContext
from modelport.jobs.domain import EventKind, Job
from modelport.jobs.store import JobStore


@pytest.fixture
def context(store: JobStore, tmp_path: Path) -> TrainContext:
    job = store.create(Job(model="m", model_spec="m"))
    return TrainContext(store, job.id, str(tmp_path / "artifacts" / job.id))


def test_report_records_progress_and_metric_series(context: TrainContext, store: JobStore) -> None:
    context.report(0.25, "warming up", loss=0.9, accuracy=0.4)
    context.report(progress=2.0, loss=0.5)  # clamped to 1
    context.report(step=10, loss=0.1)
    job = store.get(context.job_id)
    assert job.progress == 1.0
    assert job.progress_message == "warming up"
    series = [(m.name, m.value, m.step) for m in store.metrics(context.job_id)]
    assert series == [("loss", 0.9, 1), ("accuracy", 0.4, 1), ("loss", 0.5, 2), ("loss", 0.1, 10)]


def test_artifacts_of_every_kind(context: TrainContext, store: JobStore, tmp_path: Path) -> None:
    local = tmp_path / "model.bin"
    local.write_bytes(b"\x00" * 100)
    urls = [
        context.save_artifact("raw.bin", b"abc"),
        context.save_artifact("notes.txt", "hello"),
        context.save_artifact("summary.json", {"f1": 0.9}),
        context.save_artifact("weights/model.bin", local),
        context.checkpoint("epoch-1.ckpt", b"x"),
    ]
    root = Path(context.artifacts_url)
    assert (root / "raw.bin").read_bytes() == b"abc"
    assert (root / "notes.txt").read_text() == "hello"
    assert json.loads((root / "summary.json").read_text()) == {"f1": 0.9}
    assert (root / "weights" / "model.bin").stat().st_size == 100
    assert (root / "checkpoints" / "epoch-1.ckpt").read_bytes() == b"x"
    assert urls[0] == f"{context.artifacts_url}/raw.bin"
    events = store.events(context.job_id, kinds=[EventKind.ARTIFACT])
    assert [e.data["name"] for e in events] == [
        "raw.bin",
        "notes.txt",
        "summary.json",
        "weights/model.bin",
        "checkpoints/epoch-1.ckpt",
    ]
    assert events[3].data["size"] == 100


def test_artifacts_go_to_any_fsspec_url(store: JobStore) -> None:
    job = store.create(Job(model="m", model_spec="m"))
    context = TrainContext(store, job.id, f"memory://artifacts/{job.id}")
    context.save_artifact("a.txt", "in memory")
    import fsspec

    with fsspec.open(f"memory://artifacts/{job.id}/a.txt", "rt") as handle:
        assert handle.read() == "in memory"


def test_open_reads_data_by_path_or_url(context: TrainContext, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n")
    with context.open(str(data), "rt") as handle:
        assert handle.read() == "x,y\n1,2\n"
    with context.open(f"file://{data}") as handle:
        assert handle.read() == b"x,y\n1,2\n"
    with pytest.raises(FileNotFoundError):
        context.open(str(tmp_path / "missing.csv"))


def test_cancelled_reflects_a_cancel_request(context: TrainContext, store: JobStore) -> None:
    assert not context.cancelled
    from modelport.jobs.domain import JobStatus

    store.transition(context.job_id, JobStatus.RUNNING)
    store.request_cancel(context.job_id)
    assert context.cancelled
