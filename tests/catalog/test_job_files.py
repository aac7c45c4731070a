"""Publishing a training's outputs when they live on S3 or WebDAV: the catalog reads the job's
artifacts with the credentials of ``storage_options``, as the training wrote them.

Real servers on 127.0.0.1 (moto's S3 server, WsgiDAV with basic auth), a real training in its
own process, the catalog's HTTP API.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.catalog.job_files import job_artifact_files
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.errors import StoreError
from modelport.jobs.domain import Job, JobStatus, Resources
from modelport.jobs.setup import build_job_service
from modelport.settings import Settings
from tests.gateway.conftest import META
from tests.storage.servers import StorageServer
from tests.storage.test_backends import SECRETS, Target, dav, down_target, location, s3

__all__ = ["dav", "s3"]  # the module's servers (fixtures)

TRAINER = "mp_fixtures.typed:Trainer"


@pytest.fixture(params=[pytest.param(k, marks=pytest.mark.slow) for k in ("s3", "webdav")])
def target(request: pytest.FixtureRequest) -> Target:
    """A fresh location on S3 or WebDAV, and the storage_options that reach it."""
    return location(
        request.param, request.getfixturevalue("s3" if request.param == "s3" else "dav")
    )


async def client_for(service: CatalogService) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(service, Settings()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []
    yield made
    for client in made:
        await client.aclose()


def train(settings: Settings) -> Job:
    """One real training of the trainer fixture (it saves ``weights.json``), finished."""
    jobs = build_job_service(settings)
    jobs.start()
    try:
        job = jobs.submit(
            discovery.load(TRAINER), RawArgs(json={"epochs": 1}), resources=Resources(cpu=1)
        )
        deadline = time.monotonic() + 60
        while not (done := jobs.store.get(job.id)).status.finished:
            assert time.monotonic() < deadline, "the training did not finish"
            time.sleep(0.05)
    finally:
        jobs.stop()
    assert done.status is JobStatus.SUCCEEDED, (done.error, jobs.store.logs(job.id))
    return done


async def test_a_training_on_remote_storage_is_published_as_a_version(
    target: Target, tmp_path: Path, clients: list[httpx.AsyncClient]
) -> None:
    """Credentials only in storage_options: the training writes with them, the publish reads
    with them, and the version serves the training's file from the catalog."""
    settings = Settings(
        data_dir=tmp_path,
        artifacts_url=target.url,
        storage_options=target.storage_options,
        executor_cpus=2,
    )
    job = train(settings)
    assert job.artifacts_url == f"{target.url}/{job.id}"

    catalog = build_catalog_service(settings)
    catalog.registry.publish("trainer", "1.0.0", META, load_spec=TRAINER, package="mp_fixtures")
    http = await client_for(catalog)
    clients.append(http)
    created = await http.post(
        "/catalog/modules/trainer/versions", json={"job_id": job.id, "version": "1.1.0"}
    )
    assert created.status_code == 201, created.text
    version = created.json()
    assert [a["name"] for a in version["artifacts"]] == ["weights.json"]
    assert version["lineage"]["job_id"] == job.id
    assert version["load_spec"] == TRAINER  # the base version's code, the training's weights
    weights = await http.get("/catalog/modules/trainer/versions/1.1.0/artifacts/weights.json")
    assert weights.status_code == 200, weights.text
    assert json.loads(weights.content) == {"loss": 0.5}
    assert not any(secret in created.text for secret in SECRETS)


def remote_job(catalog: CatalogService, target: Target, files: dict[str, bytes]) -> Job:
    """A succeeded job whose artifacts (``files``) are already under ``target``."""
    assert catalog.jobs is not None
    job = Job(model="trainer", model_spec=TRAINER, args={})
    job.artifacts_url = f"{target.url}/{job.id}"
    backend = target.backend()
    for name, data in files.items():
        backend.fs.pipe_file(f"{backend.path}/{job.id}/{name}", data)
    catalog.jobs.create(job)
    catalog.jobs.transition(job.id, JobStatus.RUNNING)
    catalog.jobs.transition(job.id, JobStatus.SUCCEEDED)
    return job


@pytest.mark.slow
async def test_without_the_shares_credentials_nothing_is_published(
    dav: StorageServer, tmp_path: Path, clients: list[httpx.AsyncClient]
) -> None:
    """A share that refuses the catalog answers an error naming it; no empty version appears
    (a listing that failed is not "the training saved nothing")."""
    target = location("webdav", dav)
    without = build_catalog_service(Settings(data_dir=tmp_path))  # no storage_options
    without.registry.publish("trainer", "1.0.0", META, load_spec=TRAINER, package="mp_fixtures")
    job = remote_job(without, target, {"ckpt/weights.bin": b"weights"})
    http = await client_for(without)
    clients.append(http)
    refused = await http.post(
        "/catalog/modules/trainer/versions", json={"job_id": job.id, "version": "1.1.0"}
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["message"].startswith(f"storage backend {target.url}/{job.id}")
    versions = await http.get("/catalog/modules/trainer/versions")
    assert [v["version"] for v in versions.json()] == ["1.0.0"]

    # the same catalog with the share's options publishes it
    with_options = build_catalog_service(
        Settings(data_dir=tmp_path, storage_options=target.storage_options)
    )
    http = await client_for(with_options)
    clients.append(http)
    created = await http.post(
        "/catalog/modules/trainer/versions", json={"job_id": job.id, "version": "1.1.0"}
    )
    assert created.status_code == 201, created.text
    assert [a["name"] for a in created.json()["artifacts"]] == ["ckpt/weights.bin"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["s3", "webdav"])
def test_a_backend_that_is_down_is_an_error_not_an_empty_job(kind: str, tmp_path: Path) -> None:
    down = down_target(kind)
    shown = re.escape(f"storage backend {down.url}/job ")
    with pytest.raises(StoreError, match=f"^{shown}.*is unavailable"):
        job_artifact_files(f"{down.url}/job", tmp_path, down.storage_options)


def test_a_job_without_artifacts_publishes_no_files(tmp_path: Path) -> None:
    assert job_artifact_files(None, tmp_path) == []
    assert job_artifact_files(str(tmp_path / "never-written"), tmp_path / "work") == []
