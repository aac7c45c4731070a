"""What a training reads back through its channel: its own artifacts, else those of the jobs it
retries (same owner), never another job's; and its model version's files, where it cannot see
them (a Ray node that does not share the server's disk)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelport.errors import ModelportError
from modelport.jobs.channel import ChannelRecorder, serve_channel
from modelport.jobs.domain import Job, JobStatus
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore
from modelport.sandbox import choose_sandbox
from modelport.sandbox.base import SandboxSpec

Reader = Callable[[str], ChannelRecorder]


def job(store: JobStore, root: Path, owner: str, retry_of: str | None = None) -> Job:
    made = Job(model="m", model_spec="m:M", owner=owner, retry_of=retry_of)
    made.artifacts_url = str(root / made.id)
    return store.create(made)


@pytest.fixture
def reader(store: JobStore) -> Iterator[Reader]:
    opened: list[tuple[socket.socket, threading.Thread]] = []

    def open_for(job_id: str) -> ChannelRecorder:
        ours, theirs = socket.socketpair()
        thread = threading.Thread(target=serve_channel, args=(ours, store, job_id), daemon=True)
        thread.start()
        opened.append((theirs, thread))
        return ChannelRecorder(theirs)

    yield open_for
    for sock, thread in opened:
        sock.close()
        thread.join(timeout=5)


def test_a_retry_reads_the_checkpoint_of_the_job_it_retries_and_never_anothers(
    store: JobStore, reader: Reader, tmp_path: Path
) -> None:
    failed = job(store, tmp_path, "alice")
    saved = tmp_path / failed.id / "checkpoints" / "last.pt"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"epoch 3" * 300_000)  # over two chunks
    retry = job(store, tmp_path, "alice", retry_of=failed.id)
    assert reader(retry.id).read_artifact("checkpoints/last.pt") == saved.read_bytes()

    own = tmp_path / retry.id / "checkpoints" / "last.pt"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"epoch 5")
    assert reader(retry.id).read_artifact("checkpoints/last.pt") == b"epoch 5"  # its own first

    other = job(store, tmp_path, "mallory", retry_of=failed.id)  # not the owner of what it names
    assert reader(other.id).read_artifact("checkpoints/last.pt") is None
    unrelated = job(store, tmp_path, "alice")
    assert reader(unrelated.id).read_artifact("checkpoints/last.pt") is None
    with pytest.raises(ModelportError, match="relative path"):
        reader(unrelated.id).read_artifact(f"../{failed.id}/checkpoints/last.pt")


def test_a_training_copies_its_model_versions_files_and_nothing_else(
    store: JobStore, reader: Reader, tmp_path: Path
) -> None:
    model_dir = tmp_path / "models" / "m" / "1.0.0"
    (model_dir / "weights").mkdir(parents=True)
    (model_dir / "weights" / "big.bin").write_bytes(bytes(range(256)) * 9000)  # > 2 chunks
    (model_dir / "answer.txt").write_text("42")
    (tmp_path / "secret.txt").write_text("the platform's")
    made = Job(model="m", model_spec="m:M", owner="alice", model_dir=str(model_dir))
    made.artifacts_url = str(tmp_path / made.id)
    store.create(made)
    channel = reader(made.id)

    copied = channel.fetch_model(tmp_path / "copy")
    assert (copied / "answer.txt").read_text() == "42"
    assert (copied / "weights" / "big.bin").read_bytes() == bytes(range(256)) * 9000
    with pytest.raises(ModelportError, match="name"):
        channel._call("model-read", name="../../../secret.txt", offset=0)
    bare = job(store, tmp_path, "alice")  # no model directory: nothing to copy
    (tmp_path / "none").mkdir()
    assert list(reader(bare.id).fetch_model(tmp_path / "none").iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_training_that_cannot_see_its_model_directory_copies_it(
    store: JobStore, tmp_path: Path
) -> None:
    # a node that does not share the server's disk, played by a sandbox that does not show it
    model_dir = tmp_path / "models" / "artifact-reader" / "1.0.0"
    model_dir.mkdir(parents=True)
    (model_dir / "answer.txt").write_text("from the server")
    executor = LocalExecutor(
        store,
        cpus=1,
        gpus=0,
        cancel_grace=1,
        sandbox=choose_sandbox("bwrap"),
        spec_for=lambda _job: SandboxSpec(),
    )
    service = JobService(store, executor, str(tmp_path / "artifacts"), cancel_grace=1)
    service.start()
    try:
        queued = service.enqueue(
            model="artifact-reader",
            spec="mp_fixtures.reader:ArtifactReader",
            args={},
            model_dir=str(model_dir),
        )
        deadline = time.monotonic() + 60
        while not (done := store.get(queued.id)).status.finished:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        service.stop()
    assert done.status is JobStatus.SUCCEEDED, (done.error, store.logs(queued.id))
    assert done.result is not None
    assert done.result["answer"] == "from the server"
    assert done.result["seen_at"] != str(model_dir)  # its own copy
