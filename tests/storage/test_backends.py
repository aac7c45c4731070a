"""Storage backends for real: the artifact store, trainings' artifacts and the catalog's HTTP API
on moto's S3 server and on WsgiDAV (with basic auth), each a subprocess on 127.0.0.1.

What runs without a server (URLs, options, settings) is tested first; the rest is slow.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx
import pytest
import yaml
from fastapi import FastAPI

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.catalog import validate_metadata
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput, NotFound, StoreError
from modelport.jobs.domain import Job, JobStatus, Resources
from modelport.jobs.setup import build_job_service
from modelport.settings import Settings
from modelport.storage import CHUNK_SIZE, ArtifactStore
from modelport.storage.artifacts import WRITE_BLOCK_SIZE
from modelport.storage.backends import (
    check_url,
    options_for,
    redact_url,
)
from tests.catalog.samples import FIXTURES
from tests.storage.servers import (
    BUCKET,
    DAV_PASSWORD,
    S3_SECRET,
    StorageServer,
    Target,
    dav,
    dav_options,
    free_port,
    location,
    moto_server,
    s3,
    s3_options,
    wsgidav_server,
)

__all__ = ["Target", "dav", "location", "s3"]  # the servers (fixtures), also other modules'


SECRETS = (S3_SECRET, DAV_PASSWORD)
DATA = bytes(range(256)) * 40  # 10240 bytes, every byte value
DATA_SHA = hashlib.sha256(DATA).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- URLs, options, settings (no server) ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("s3://AKIA123:se%2Fcret@bucket/prefix", "s3://bucket/prefix"),
        ("webdav+https://alice:pw@dav.example.org/dav", "webdav+https://dav.example.org/dav"),
        ("https://host/x?X-Amz-Signature=abc&a=1", "https://host/x?X-Amz-Signature=***&a=1"),
        (
            "failed on http://u:p@10.0.0.1:9000/b and s3://b",
            "failed on http://10.0.0.1:9000/b and s3://b",
        ),
        ("/var/lib/modelport/artifacts", "/var/lib/modelport/artifacts"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIA123:topsecret@bucket/artifacts",
        "webdav+https://alice:topsecret@dav.example.org/dav",
        "webdavs://alice:topsecret@dav.example.org/dav",
    ],
)
def test_credentials_in_a_url_are_refused_without_showing_them(url: str) -> None:
    for refuse, field in (
        (lambda: ArtifactStore(url), "root_url"),
        (lambda: check_url(url, "catalog_artifacts_url"), "catalog_artifacts_url"),
    ):
        with pytest.raises(InvalidInput) as info:
            refuse()
        assert list(info.value.errors) == [field]
        (message,) = info.value.errors[field]
        assert "topsecret" not in message
        assert "storage_options" in message


def test_the_platform_refuses_to_start_with_credentials_in_a_storage_url(tmp_path: Path) -> None:
    url = "s3://AKIA123:topsecret@bucket/prefix"
    for build, field in (
        (
            lambda: build_catalog_service(Settings(data_dir=tmp_path, catalog_artifacts_url=url)),
            "catalog_artifacts_url",
        ),
        (
            lambda: build_job_service(Settings(data_dir=tmp_path, artifacts_url=url)),
            "artifacts_url",
        ),
    ):
        with pytest.raises(InvalidInput) as info:
            build()
        assert list(info.value.errors) == [field]
        assert "topsecret" not in str(info.value.errors)


def test_options_merge_the_scheme_then_longer_prefixes() -> None:
    table: dict[str, dict[str, Any]] = {
        "s3": {"key": "platform", "endpoint_url": "http://minio:9000"},
        "s3://bucket": {"key": "bucket-wide"},
        "s3://bucket/jobs": {"key": "jobs-only", "config_kwargs": {"connect_timeout": 1}},
        "webdav+https://dav.example.org/dav": {"auth": ["alice", "pw"]},
    }
    jobs = options_for("s3://bucket/jobs/123", table)
    assert jobs == {
        "key": "jobs-only",
        "endpoint_url": "http://minio:9000",
        "config_kwargs": {"connect_timeout": 1},
    }
    assert options_for("s3://bucket/catalog", table)["key"] == "bucket-wide"
    assert options_for("s3://bucket-2/x", table)["key"] == "platform"  # a prefix, not a string
    assert options_for("s3://other/x", table)["key"] == "platform"
    assert options_for("webdav+https://dav.example.org/dav/x", table) == {"auth": ["alice", "pw"]}
    assert options_for("/srv/artifacts", table) == {}
    jobs["config_kwargs"]["connect_timeout"] = 99  # libraries mutate what they are given
    assert table["s3://bucket/jobs"]["config_kwargs"] == {"connect_timeout": 1}


def test_settings_read_storage_options_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {"s3://bucket/catalog": {"key": "k", "secret": "topsecret", "endpoint_url": "http://x"}}
    monkeypatch.setenv("MODELPORT_STORAGE_OPTIONS", json.dumps(table))
    monkeypatch.setenv("MODELPORT_CATALOG_ARTIFACTS_URL", "s3://bucket/catalog")
    settings = Settings()
    root = settings.catalog_artifacts_root()
    assert settings.storage_options_for(root)["secret"] == "topsecret"
    assert settings.storage_options_for("s3://bucket/jobs") == {}
    assert "topsecret" not in repr(settings)


#: Options of their own win over the S3 defaults: one attempt, for tests of an outage.
ONE_ATTEMPT = {"config_kwargs": {"retries": {"max_attempts": 1}}}


def down_target(kind: str) -> Target:
    """A location on a port where no server listens."""
    port = free_port()
    if kind == "s3":
        options = {**s3_options(f"http://127.0.0.1:{port}"), **ONE_ATTEMPT}
        return Target(kind, f"s3://{BUCKET}/x", {"s3": options})
    share = f"webdav+http://127.0.0.1:{port}/dav"
    return Target(kind, f"{share}/x", {share: dav_options()})


# -- the artifact store on a server -----------------------------------------------------------


def test_put_read_ranges_exists_delete(target: Target) -> None:
    store = target.store()
    stored = store.put(DATA)
    assert (stored.sha256, stored.size) == (DATA_SHA, len(DATA))
    assert stored.url == f"{target.url}/sha256/{DATA_SHA[:2]}/{DATA_SHA}"
    assert target.files() == [f"sha256/{DATA_SHA[:2]}/{DATA_SHA}"]  # no upload left over
    assert store.exists(DATA_SHA)
    assert store.size(DATA_SHA) == len(DATA)
    with store.open(DATA_SHA) as stream:
        assert stream.read() == DATA
    for start, end in [(0, 1), (100, 200), (5000, None), (len(DATA) - 1, None), (9000, 99999)]:
        expected = DATA[start:end]
        assert store.open_range(DATA_SHA, start, end) == expected
        assert b"".join(store.iter_chunks(DATA_SHA, start, end, chunk_size=333)) == expected
    with pytest.raises(InvalidInput):
        store.iter_chunks(DATA_SHA, len(DATA), None)  # unsatisfiable: refused before reading
    assert store.verify(DATA_SHA)
    store.delete(DATA_SHA)
    assert not store.exists(DATA_SHA)
    assert target.files() == []
    for gone in (store.delete, store.size, store.open, store.iter_chunks):
        with pytest.raises(NotFound):
            gone(DATA_SHA)


def test_storing_the_same_bytes_again_keeps_one_object(target: Target) -> None:
    store = target.store()
    first = store.put(DATA)
    assert store.put(io.BytesIO(DATA), expected_sha256=DATA_SHA) == first  # a retried upload
    assert target.store().put(DATA) == first  # another process's store
    assert target.files() == [f"sha256/{DATA_SHA[:2]}/{DATA_SHA}"]


def test_a_checksum_mismatch_is_refused_and_leaves_nothing(target: Target) -> None:
    store = target.store()
    wrong = sha(b"other bytes")
    with pytest.raises(InvalidInput) as info:
        store.put(io.BytesIO(DATA), expected_sha256=wrong)
    assert info.value.errors == {"sha256": [f"checksum mismatch: expected {wrong}, got {DATA_SHA}"]}
    assert not store.exists(DATA_SHA)
    assert not store.exists(wrong)
    assert target.files() == []


class GeneratedStream(io.RawIOBase):
    """``size`` pseudo-random bytes, made as they are read (never all in memory) and hashed as
    they go; ``fail_after``: raise once that many bytes were read (a client gone mid-upload)."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.remaining = size
        self.given = 0
        self.largest_read = 0
        self.fail_after = fail_after
        self.hasher = hashlib.sha256()
        self._random = random.Random(size)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None
        assert size > 0, "the whole stream was asked for at once"
        if self.fail_after is not None and self.given >= self.fail_after:
            raise ConnectionResetError("the client went away")
        data = self._random.randbytes(min(size, self.remaining))
        self.remaining -= len(data)
        self.given += len(data)
        self.largest_read = max(self.largest_read, size)
        self.hasher.update(data)
        return data


def _peak_bytes(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_file_streams_both_ways_in_bounded_memory(target: Target) -> None:
    size = 96 * CHUNK_SIZE
    source = GeneratedStream(size)
    store = target.store()
    stored = []
    peak_up = _peak_bytes(lambda: stored.append(store.put(cast(BinaryIO, source))))
    assert stored[0].sha256 == source.hasher.hexdigest()
    assert stored[0].size == size
    assert source.largest_read <= CHUNK_SIZE  # read in chunks, never whole
    hasher = hashlib.sha256()

    def download() -> None:
        for chunk in store.iter_chunks(stored[0].sha256):
            assert len(chunk) <= CHUNK_SIZE
            hasher.update(chunk)

    peak_down = _peak_bytes(download)
    assert hasher.hexdigest() == stored[0].sha256
    # what the backends hold (a multipart part and its copies, a spooled upload, a read-ahead
    # block) follows the store's block sizes, not the object's size (measured: 26 MiB up on
    # S3, 17 MiB down, for 32 MiB and 96 MiB objects alike)
    bound = 4 * WRITE_BLOCK_SIZE
    assert peak_up < bound, f"put() peaked at {peak_up} bytes for {size}"
    assert peak_down < bound, f"iter_chunks() peaked at {peak_down} bytes for {size}"


def test_a_failed_upload_leaves_no_object_and_no_temporary_one(target: Target) -> None:
    store = target.store()
    source = GeneratedStream(32 * CHUNK_SIZE, fail_after=20 * CHUNK_SIZE)  # parts already sent
    with pytest.raises(InvalidInput) as info:
        store.put(cast(BinaryIO, source))
    assert "source" in info.value.errors
    assert target.files() == []
    if target.kind == "s3":  # the multipart upload was aborted, not left to be billed
        backend = target.backend()
        prefix = backend.path.split("/", 1)[1]
        listed = backend.fs.call_s3("list_multipart_uploads", Bucket=BUCKET, Prefix=prefix)
        assert listed.get("Uploads", []) == []


@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=pytest.mark.slow) for k in ("s3", "webdav")]
)
def test_a_backend_that_is_down_is_named_in_a_store_error(kind: str) -> None:
    target = down_target(kind)
    store = target.store()
    for call in (
        lambda: store.exists(DATA_SHA),
        lambda: store.size(DATA_SHA),
        lambda: store.open(DATA_SHA),
        lambda: store.iter_chunks(DATA_SHA),
        lambda: store.put(DATA),
    ):
        with pytest.raises(StoreError) as info:
            call()
        message = info.value.message
        assert message.startswith(f"storage backend {target.url}"), message
        assert "is unavailable" in message
        if kind == "s3":
            endpoint = target.storage_options["s3"]["endpoint_url"]
            assert f"s3://{BUCKET}/x at {endpoint} is unavailable" in message
        assert not any(secret in message for secret in SECRETS)


@pytest.mark.slow
def test_webdav_credentials_come_from_the_options(dav: StorageServer) -> None:
    target = location("webdav", dav)
    assert target.store().put(DATA).sha256 == DATA_SHA
    refused = ArtifactStore(target.url, auth=["alice", "wrong"])
    with pytest.raises(StoreError) as info:
        refused.exists(DATA_SHA)
    assert info.value.message == f"storage backend {target.url} failed: received 401 (Unauthorized)"
    anonymous = ArtifactStore(target.url)
    with pytest.raises(StoreError) as info:
        anonymous.size(DATA_SHA)
    assert "401" in info.value.message


# -- trainings write their artifacts to the store ------------------------------------------------


def test_a_trainings_artifacts_land_in_the_store(target: Target, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        artifacts_url=target.url,
        storage_options=target.storage_options,
        executor_cpus=2,
    )
    service = build_job_service(settings)
    service.start()
    try:
        job = service.submit(
            discovery.load("trainer"),
            RawArgs(json={"epochs": 1, "sleep": 0.01}),
            resources=Resources(cpu=1),
        )
        deadline = time.monotonic() + 60
        while not (done := service.store.get(job.id)).status.finished:
            assert time.monotonic() < deadline, "the training did not finish"
            time.sleep(0.05)
        # what the jobs API lists and downloads: read with the backend's options (credentials)
        listed = service.artifacts(job.id)
        handle, size = service.open_artifact(job.id, "weights.json")
        with handle:
            downloaded = handle.read()
    finally:
        service.stop()
    assert done.status is JobStatus.SUCCEEDED, (done.error, service.store.logs(job.id))
    assert listed == [{"name": "weights.json", "size": len(downloaded)}]
    assert (size, json.loads(downloaded)) == (len(downloaded), {"loss": 0.5})
    assert done.artifacts_url == f"{target.url}/{job.id}"
    record = done.model_dump_json()
    assert not any(secret in record for secret in SECRETS)  # the job record has no credentials
    backend = target.backend()
    written = backend.fs.cat_file(f"{backend.path}/{job.id}/weights.json")
    assert json.loads(written) == {"loss": 0.5}


# -- the catalog serves artifacts from the store, and answers 503 when it is down ---------------


def plants_metadata() -> Any:
    data = yaml.safe_load((FIXTURES / "image_classifier.ai4-metadata.yml").read_text())
    return validate_metadata(data)


@pytest.fixture
async def catalog_client() -> AsyncIterator[Callable[[CatalogService], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(service: CatalogService) -> httpx.AsyncClient:
        app = FastAPI()
        install_error_handlers(app, False)
        app.include_router(catalog_router(service, Settings()))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def finished_training(service: CatalogService, workdir: Path, payload: bytes) -> Job:
    """A succeeded training of ``plants`` whose artifact ``ckpt/weights.bin`` is ``payload``."""
    assert service.jobs is not None
    job = Job(model="plants", model_spec="plants.model:Plants", args={})
    job.artifacts_url = str(workdir / job.id)
    (workdir / job.id / "ckpt").mkdir(parents=True)
    (workdir / job.id / "ckpt" / "weights.bin").write_bytes(payload)
    service.jobs.create(job)
    service.jobs.transition(job.id, JobStatus.RUNNING)
    service.jobs.transition(job.id, JobStatus.SUCCEEDED)
    return job


def catalog_on(target: Target, data_dir: Path) -> CatalogService:
    settings = Settings(
        data_dir=data_dir, catalog_artifacts_url=target.url, storage_options=target.storage_options
    )
    service = build_catalog_service(settings)
    service.registry.publish("plants", "1.0.0", plants_metadata())
    return service


ARTIFACT = "/catalog/modules/plants/versions/{version}/artifacts/ckpt/weights.bin"


async def test_the_catalog_serves_a_published_artifact_from_the_store(
    target: Target, tmp_path: Path, catalog_client: Callable[[CatalogService], httpx.AsyncClient]
) -> None:
    service = catalog_on(target, tmp_path)
    http = catalog_client(service)
    payload = random.Random(7).randbytes(3 * CHUNK_SIZE + 123)
    job = finished_training(service, tmp_path / "jobs", payload)
    created = await http.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "2.0.0"}
    )
    assert created.status_code == 201, created.text
    assert target.files() == [f"sha256/{sha(payload)[:2]}/{sha(payload)}"]
    whole = await http.get(ARTIFACT.format(version="2.0.0"))
    assert whole.status_code == 200
    assert whole.content == payload
    assert whole.headers["etag"] == f'"{sha(payload)}"'
    part = await http.get(ARTIFACT.format(version="2.0.0"), headers={"Range": "bytes=1000000-"})
    assert part.status_code == 206
    assert part.content == payload[1000000:]
    assert part.headers["content-range"] == f"bytes 1000000-{len(payload) - 1}/{len(payload)}"


@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=pytest.mark.slow) for k in ("s3", "webdav")]
)
async def test_the_catalog_answers_503_naming_the_backend_when_it_is_down(
    kind: str, tmp_path: Path, catalog_client: Callable[[CatalogService], httpx.AsyncClient]
) -> None:
    (tmp_path / "server").mkdir()
    server = (moto_server if kind == "s3" else wsgidav_server)(tmp_path / "server")
    server.start()
    try:
        target = location(kind, server)
        if kind == "s3":
            target.backend(f"s3://{BUCKET}").fs.mkdir(BUCKET)
            target.storage_options["s3"].update(ONE_ATTEMPT)
        service = catalog_on(target, tmp_path)
        http = catalog_client(service)
        first = finished_training(service, tmp_path / "jobs", DATA)
        created = await http.post(
            "/catalog/modules/plants/versions", json={"job_id": first.id, "version": "2.0.0"}
        )
        assert created.status_code == 201, created.text
    finally:
        server.stop()

    download = await http.get(ARTIFACT.format(version="2.0.0"))
    ranged = await http.get(ARTIFACT.format(version="2.0.0"), headers={"Range": "bytes=0-9"})
    second = finished_training(service, tmp_path / "jobs", b"new weights")
    publish = await http.post(
        "/catalog/modules/plants/versions", json={"job_id": second.id, "version": "3.0.0"}
    )
    for answer in (download, ranged, publish):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/json"
        message = answer.json()["message"]
        assert message.startswith(f"storage backend {target.url}"), message
        assert "is unavailable" in message
        if kind == "s3":
            assert f"at {server.endpoint} is unavailable" in message
        assert not any(secret in answer.text for secret in SECRETS)
