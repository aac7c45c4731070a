"""What a training reads back through its channel: its own artifacts, else those of the jobs it
retries (same owner), never another job's."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelport.errors import ModelportError
from modelport.jobs.channel import ChannelRecorder, serve_channel
from modelport.jobs.domain import Job
from modelport.jobs.store import JobStore

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
