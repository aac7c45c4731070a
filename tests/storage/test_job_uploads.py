"""A training's artifacts in a remote location (moto's S3, WsgiDAV): the bytes go through the
job's channel and the platform writes them (:mod:`modelport.jobs.uploads`), so the training's
process never holds the storage's credentials; an upload abandoned half-way leaves nothing."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.db import connect
from modelport.errors import ModelportError
from modelport.jobs.channel import ChannelRecorder, serve_channel
from modelport.jobs.domain import EventKind, Job, JobStatus
from modelport.jobs.setup import build_job_service
from modelport.jobs.store import JobStore
from modelport.jobs.uploads import CHUNK
from modelport.settings import Settings
from tests.storage.servers import DAV_PASSWORD, S3_KEY, S3_SECRET, Target

SECRETS = (S3_KEY, S3_SECRET, DAV_PASSWORD)
BIG = os.urandom(2 * CHUNK + 12345)  # three calls' worth, the last one short


class Channel:
    """A job's channel served by a thread, as an executor serves it."""

    def __init__(self, store: JobStore, job_id: str, target: Target) -> None:
        ours, theirs = socket.socketpair()
        self.thread = threading.Thread(
            target=serve_channel, args=(ours, store, job_id, target.storage_options), daemon=True
        )
        self.thread.start()
        self.sock = theirs
        self.recorder = ChannelRecorder(theirs)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=10)


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(connect(f"sqlite:///{tmp_path}/jobs.sqlite"))


def running_job(store: JobStore, target: Target) -> Job:
    job = Job(model="m", model_spec="m:M", args={})
    job.artifacts_url = f"{target.url}/{job.id}"
    store.create(job)
    return store.transition(job.id, JobStatus.RUNNING)


def artifacts(store: JobStore, job_id: str) -> list[dict[str, object]]:
    return [e.data for e in store.events(job_id) if e.kind is EventKind.ARTIFACT]


def test_an_upload_streams_in_chunks_and_is_recorded_once_stored(
    store: JobStore, target: Target
) -> None:
    job = running_job(store, target)
    channel = Channel(store, job.id, target)
    try:
        pieces = [BIG[: CHUNK + 1], BIG[CHUNK + 1 :]]  # not aligned with the calls
        assert channel.recorder.write_artifact("ckpt/big.bin", iter(pieces)) == len(BIG)
    finally:
        channel.close()
    stored = target.backend().fs.cat_file(f"{target.backend().path}/{job.id}/ckpt/big.bin")
    assert stored == BIG
    assert artifacts(store, job.id) == [{"name": "ckpt/big.bin", "size": len(BIG)}]


def test_an_upload_abandoned_half_way_leaves_nothing(store: JobStore, target: Target) -> None:
    job = running_job(store, target)
    channel = Channel(store, job.id, target)

    def failing() -> Iterator[bytes]:
        yield BIG[:CHUNK]
        raise OSError("the training's disk failed")

    try:
        with pytest.raises(OSError, match="disk failed"):
            channel.recorder.write_artifact("half.bin", failing())
        # the channel goes on: a training that caught it saves something else
        assert channel.recorder.write_artifact("after.txt", [b"ok"]) == 2
        # and one whose process dies half-way through an upload
        channel.recorder._call("upload-begin", name="killed.bin")
        channel.recorder._call("upload-data", data="aGFsZg==")
    finally:
        channel.close()  # the process's end of the channel closes
    assert target.files() == [f"{job.id}/after.txt"]
    assert artifacts(store, job.id) == [{"name": "after.txt", "size": 2}]


def test_an_upload_stays_in_its_jobs_location(store: JobStore, target: Target) -> None:
    job = running_job(store, target)
    channel = Channel(store, job.id, target)
    try:
        for name in ("../other-job/weights.bin", "/etc/passwd", ""):
            with pytest.raises(ModelportError, match="relative path"):
                channel.recorder.write_artifact(name, [b"x"])
    finally:
        channel.close()
    assert target.files() == []


def test_a_platform_training_holds_no_credentials_yet_its_artifacts_reach_the_store(
    target: Target, tmp_path: Path
) -> None:
    # the platform's own way: a confined training of a hostile module
    settings = Settings(
        data_dir=tmp_path,
        artifacts_url=target.url,
        storage_options=target.storage_options,
        executor_cpus=2,
    )
    service = build_job_service(settings, confined=True)
    service.start()
    try:
        job = service.enqueue(model="hostile", spec="mp_fixtures.hostile:Hostile", args={})
        deadline = time.monotonic() + 60
        while not (done := service.store.get(job.id)).status.finished:
            assert time.monotonic() < deadline, "the training did not finish"
            time.sleep(0.05)
        listed = service.artifacts(job.id)
    finally:
        service.stop()
    assert done.status is JobStatus.SUCCEEDED, (done.error, service.store.logs(job.id))
    seen = json.dumps(done.result)  # its environment, its parent's, what it wrote
    assert not [secret for secret in SECRETS if secret in seen]
    assert listed == [{"name": "evidence.txt", "size": len("a job's own artifact")}]
    assert target.files() == [f"{job.id}/evidence.txt"]
