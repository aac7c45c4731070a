"""A platform's training reads data only where it may, and writes artifacts only in its directory.

Real files and symbolic links, a real HTTP server on 127.0.0.1 (refused unless allowed), real
name resolution, and (slow) real trainings through the platform's job service, whose executor
hands each job process its rules (``MODELPORT_WORKER_DATA_ROOTS``).
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from modelport.db import connect
from modelport.errors import Forbidden, InvalidInput
from modelport.jobs.context import (
    ALLOWED_HOSTS_ENV,
    DATA_ROOTS_ENV,
    STATE_DIR_ENV,
    DataAccess,
    TrainContext,
)
from modelport.jobs.domain import Job, JobStatus
from modelport.jobs.setup import build_job_service
from modelport.jobs.store import JobStore
from modelport.settings import Settings
from modelport.storage.paths import shown

OUTSIDE = "is outside the data directories this platform lets trainings read"


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A data root holding train.csv, a secret beside it, and a link from the root to it."""
    root = tmp_path / "datasets"
    root.mkdir()
    (root / "train.csv").write_text("x,y\n1,2\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret\n")
    (root / "leak.csv").symlink_to(secret)
    return {"root": root, "train": root / "train.csv", "secret": secret, "leak": root / "leak.csv"}


def context(store: JobStore, tmp_path: Path, access: DataAccess | None) -> TrainContext:
    job = store.create(Job(model="m", model_spec="m"))
    return TrainContext(store, job.id, str(tmp_path / "artifacts" / job.id), data_access=access)


def refused(ctx: TrainContext, url: str, **options: object) -> str:
    with pytest.raises(Forbidden) as caught:
        ctx.open(url, **options)
    return caught.value.message


def test_server_paths_only_under_the_data_roots(
    store: JobStore, tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context(store, tmp_path, DataAccess((files["root"],)))
    with ctx.open(str(files["train"]), "rt") as handle:
        assert handle.read() == "x,y\n1,2\n"
    with ctx.open(files["train"].as_uri()) as handle:
        assert handle.read() == b"x,y\n1,2\n"
    secret = files["secret"]
    for url in (
        str(secret),
        secret.as_uri(),
        f"local://{secret}",
        str(files["leak"]),  # a link inside a root, to a file outside it
        f"{files['root']}/../secret.txt",
        f"simplecache::{secret.as_uri()}",
        f"zip://train.csv::{secret.as_uri()}",
        "~/.ssh/id_rsa",
        "/etc/passwd",
    ):
        message = refused(ctx, url)
        assert message == f"training data {shown(url)} {OUTSIDE}: use a path under one of " + (
            "them (ask its admin), or an https or s3 URL"
        ), url
    monkeypatch.chdir(files["root"])
    with ctx.open("train.csv", "rt") as handle:  # relative to where the training runs
        assert handle.read().startswith("x,y")
    assert OUTSIDE in refused(ctx, "../secret.txt")
    assert "unsupported protocol" in refused(ctx, "github://org:repo@main/x.csv")


def test_without_rules_a_local_training_reads_anything(
    store: JobStore, tmp_path: Path, files: dict[str, Path]
) -> None:
    ctx = context(store, tmp_path, None)  # `modelport train` on one's own machine
    with ctx.open(str(files["secret"]), "rt") as handle:
        assert handle.read() == "server secret\n"


def test_the_jobs_own_directories_count(
    store: JobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, model_dir, root = tmp_path / "state", tmp_path / "model", tmp_path / "data"
    for path in (state, model_dir, root):
        path.mkdir()
        (path / "f.txt").write_text(path.name)
    monkeypatch.setenv(DATA_ROOTS_ENV, os.pathsep.join([str(root), ""]))
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "data.lab.internal, 10.0.0.0/8")
    job = store.create(Job(model="m", model_spec="m", model_dir=str(model_dir)))
    access = DataAccess.for_worker(job)
    assert access == DataAccess((root, state, model_dir), ("data.lab.internal", "10.0.0.0/8"))
    ctx = TrainContext(store, job.id, str(tmp_path / "artifacts"), data_access=access)
    ctx.save_artifact("written.txt", "mine")
    for path in (root / "f.txt", state / "f.txt", model_dir / "f.txt", tmp_path / "artifacts"):
        target = path if path.is_file() else path / "written.txt"
        with ctx.open(str(target), "rt") as handle:
            assert handle.read()
    assert OUTSIDE in refused(ctx, str(tmp_path / "jobs.db"))
    monkeypatch.delenv(DATA_ROOTS_ENV)
    assert DataAccess.for_worker(job) is None  # the executor said nothing: a local training


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/site``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "data.csv").write_text("served\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_network_urls_reach_public_hosts_or_allowed_ones(
    store: JobStore, tmp_path: Path, http_server: str
) -> None:
    ctx = context(store, tmp_path, DataAccess())
    for url in (
        f"{http_server}/data.csv",
        "https://localhost/data.csv",
        "webdav://10.0.0.1/data.csv",
        "ftp://[0:0:0:0:0:0:0:1]/data.csv",
        "sftp://169.254.169.254/x",
        f"simplecache::{http_server}/data.csv",
    ):
        message = refused(ctx, url)
        assert message.startswith(f"training data {shown(url)}: the host "), url
        assert "not public" in message
    # fsspec splits chained URLs on "::": an IPv6 literal with "::" is no URL to it
    assert refused(ctx, "ftp://[::1]/x") == "training data 'ftp://[::1]/x': not a valid URL"
    endpoint = refused(ctx, "s3://bucket/x.csv", endpoint_url="http://127.0.0.1:9000")
    assert "not public" in endpoint
    nested = {"client_kwargs": {"endpoint_url": "http://localhost:9000"}}
    assert "not public" in refused(ctx, "s3://bucket/x.csv", **nested)

    allowed = context(store, tmp_path, DataAccess(allowed_hosts=("127.0.0.1",)))
    with allowed.open(f"{http_server}/data.csv", "rt") as handle:
        assert handle.read() == "served\n"


def test_artifact_names_stay_in_the_jobs_directory(store: JobStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, None)
    root = Path(ctx.artifacts_url)
    root.mkdir(parents=True)
    (root / "out").symlink_to(tmp_path)
    for name, why in (
        ("../../escape.txt", "contains '..'"),
        ("/tmp/escape.txt", "is an absolute path"),
        ("a\\..\\..\\escape.txt", "contains a backslash"),
        ("out/escape.txt", "leads out of its directory through a symbolic link"),
        ("", "is empty"),
    ):
        with pytest.raises(InvalidInput) as caught:
            ctx.save_artifact(name, b"x")
        assert why in caught.value.errors["name"][0], name
        with pytest.raises(InvalidInput):
            ctx.checkpoint(f"../{name}", b"x")
    assert not (tmp_path / "escape.txt").exists()
    assert ctx.save_artifact("ok/weights.bin", b"w") == f"{ctx.artifacts_url}/ok/weights.bin"
    in_memory = TrainContext(store, ctx.job_id, "memory://artifacts/job")
    with pytest.raises(InvalidInput):
        in_memory.save_artifact("../other-job/weights.bin", b"x")


# -- a real worker process ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_platform_training_follows_the_rules(tmp_path: Path, files: dict[str, Path]) -> None:
    """Through the platform's job service: its executor hands the job process the rules."""
    settings = Settings(data_dir=tmp_path / "data", sandbox="none", data_roots=[files["root"]])
    service = build_job_service(settings, confined=True)
    service.start()

    def train(**args: str) -> Job:
        job = service.enqueue(model="data-reader", spec="mp_fixtures.reader:DataReader", args=args)
        deadline = time.monotonic() + 60
        while not (job := service.get(job.id)).status.finished:
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.05)
        return job

    try:
        leaked = train(data=str(files["secret"]))
        read = train(data=str(files["train"]))
        escaped = train(data=str(files["train"]), artifact="../../escape.txt")
    finally:
        service.stop()
    assert leaked.status is JobStatus.FAILED
    assert leaked.error == f"Forbidden: training data {shown(str(files['secret']))} {OUTSIDE}: " + (
        "use a path under one of them (ask its admin), or an https or s3 URL"
    )
    assert read.status is JobStatus.SUCCEEDED, read.error
    assert read.result == {"read": "x,y\n1,2\n"}
    assert escaped.status is JobStatus.FAILED
    assert escaped.error == (
        "InvalidInput: name: '../../escape.txt' contains '..': "
        "use a relative path such as 'weights/model.bin'"
    )
    assert not (tmp_path / "escape.txt").exists()
