"""A job's channel to the platform: what a training process may record, checked by the server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from modelport.errors import IllegalTransition, InvalidInput, ModelportError
from modelport.jobs.channel import (
    ChannelAddress,
    ChannelClosed,
    ChannelListener,
    ChannelRecorder,
    connect_channel,
    serve_channel,
)
from modelport.jobs.domain import EventKind, Job, JobStatus
from modelport.jobs.store import JobStore


@pytest.fixture
def channel(store: JobStore) -> Iterator[tuple[ChannelRecorder, Job, Job]]:
    """A recorder for one running job (and another job it must not touch)."""
    job = store.create(Job(model="m", model_spec="m"))
    other = store.create(Job(model="m", model_spec="m"))
    store.transition(job.id, JobStatus.RUNNING)
    ours, theirs = socket.socketpair()
    server = threading.Thread(target=serve_channel, args=(ours, store, job.id), daemon=True)
    server.start()
    yield ChannelRecorder(theirs), store.get(job.id), other
    theirs.close()
    server.join(timeout=5)


def test_a_job_records_through_its_channel(
    channel: tuple[ChannelRecorder, Job, Job], store: JobStore
) -> None:
    recorder, job, _ = channel
    recorder.report(job.id, progress=0.25, message="epoch 1", metrics={"loss": 0.5}, step=1)
    recorder.append_logs(job.id, [("stdout", "line 1"), ("stderr", "x" * 100_000)])
    recorder.add_event(job.id, EventKind.ARTIFACT, {"name": "weights.bin", "size": 3})
    assert recorder.get(job.id).progress == 0.25
    ended = recorder.transition(job.id, JobStatus.SUCCEEDED, result={"loss": 0.1})
    assert (ended.status, ended.result, ended.progress) == (JobStatus.SUCCEEDED, {"loss": 0.1}, 1.0)
    logs = store.logs(job.id)
    assert logs[0] == "line 1"
    assert len(logs[1]) == 16 * 1024  # a line is cut at 16 KiB
    assert [m.value for m in store.metrics(job.id)] == [0.5]


def test_the_channel_refuses_what_a_job_may_not_record(
    channel: tuple[ChannelRecorder, Job, Job], store: JobStore
) -> None:
    recorder, job, other = channel
    # it names another job: the channel answers for its own job only
    recorder.report(other.id, progress=0.9)
    assert store.get(other.id).progress == 0.0
    assert recorder.get(other.id).id == job.id
    with pytest.raises(ModelportError, match="artifact is a relative path"):
        recorder.add_event(job.id, EventKind.ARTIFACT, {"name": "../../etc/passwd", "size": 1})
    with pytest.raises(ModelportError, match="a job ends succeeded or failed"):
        recorder.transition(job.id, JobStatus.QUEUED)
    with pytest.raises(InvalidInput, match="kind"):  # refused before it is even sent
        recorder.add_event(job.id, EventKind.STATUS, {"status": "succeeded"})
    with pytest.raises(ModelportError, match="unknown call"):
        recorder._call("transition", status="succeeded")
    recorder.transition(job.id, JobStatus.FAILED, error="boom")
    with pytest.raises(IllegalTransition):  # it ended: it cannot end again
        recorder.transition(job.id, JobStatus.SUCCEEDED, result=1)
    assert store.get(job.id).status is JobStatus.FAILED


def test_garbage_on_the_channel_ends_it_without_harm(store: JobStore) -> None:
    job = store.create(Job(model="m", model_spec="m"))
    ours, theirs = socket.socketpair()
    server = threading.Thread(target=serve_channel, args=(ours, store, job.id), daemon=True)
    server.start()
    theirs.sendall(b"\xff\xff\xff\xff")  # a frame far over the limit
    server.join(timeout=5)
    assert not server.is_alive()  # the server's end is closed: the job's next call fails
    assert theirs.recv(1) == b""
    assert store.get(job.id).status is JobStatus.QUEUED


# -- over TCP (jobs on Ray) -----------------------------------------------------------------------


def test_a_job_elsewhere_records_with_its_one_time_key(store: JobStore) -> None:
    job = store.create(Job(model="m", model_spec="m"))
    other = store.create(Job(model="m", model_spec="m"))
    store.transition(job.id, JobStatus.RUNNING)
    listener = ChannelListener(store, "127.0.0.1")
    try:
        address = listener.open(job.id)
        unused = listener.open(other.id)
        with connect_channel(address) as sock:
            recorder = ChannelRecorder(sock)
            recorder.report(other.id, progress=0.5)  # its key names its job: this is its own
            assert recorder.get(other.id).id == job.id
        listener.wait(job.id, timeout=5)
        assert (store.get(job.id).progress, store.get(other.id).progress) == (0.5, 0.0)

        # the key worked once; a wrong one, or none in time, gets the connection closed
        for key in (address.key, "guessed", ""):
            forged = ChannelAddress(address.host, address.port, key)
            with connect_channel(forged) as sock, pytest.raises(ChannelClosed):
                ChannelRecorder(sock).report(job.id, progress=0.9)
        with socket.create_connection((address.host, address.port)) as silent:
            silent.sendall(b"\x7f\xff\xff\xff")  # a frame it never finishes (nor may: too big)
            assert silent.recv(1) == b""
        assert store.get(job.id).progress == 0.5
        listener.wait(other.id, timeout=1)  # the other job ended without using its key
        with connect_channel(unused) as sock, pytest.raises(ChannelClosed):
            ChannelRecorder(sock).get(other.id)
    finally:
        listener.close()
    with pytest.raises(ChannelClosed, match="cannot reach"):
        connect_channel(address, timeout=2)


def test_the_listener_takes_a_fixed_port(store: JobStore) -> None:
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = ChannelListener(store, "127.0.0.1", port)
    try:
        assert listener.open("job").port == port
    finally:
        listener.close()
