"""Serving a catalog version whose artifacts live on S3 or WebDAV, credentials only in
``storage_options``: the gateway fetches them through the catalog's own store (opened with its
options) and its workers never see the credentials.

Real servers on 127.0.0.1 (moto's S3 server, WsgiDAV with basic auth), real worker processes,
and a real ``modelport up`` configured by its environment as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.cli.test_up import env_for, up_command, workers
from tests.gateway.conftest import GatewayFactory, publish
from tests.storage.test_backends import SECRETS, Target, dav, location, s3

__all__ = ["dav", "s3"]  # the module's servers (fixtures)

ANSWER = "tests.gateway.models:Answer"  # answers with its version's answer.txt
ROOT = Path(__file__).resolve().parents[2]
KINDS = [pytest.param(k, marks=pytest.mark.slow) for k in ("s3", "webdav")]


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest) -> Target:
    """A fresh location on S3 or WebDAV, and the storage_options that reach it."""
    return location(
        request.param, request.getfixturevalue("s3" if request.param == "s3" else "dav")
    )


@pytest.fixture
def catalog(tmp_path: Path, target: Target) -> CatalogService:
    """The catalog (the gateway fixture's) with its artifact store on ``target``."""
    settings = Settings(
        data_dir=tmp_path / "data",
        catalog_artifacts_url=target.url,
        storage_options=target.storage_options,
    )
    return build_catalog_service(settings)


def process_text(pid: int) -> str:
    """What anyone who can read /proc sees of a process: its command line and environment."""
    proc = Path(f"/proc/{pid}")
    return ((proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()).decode(
        errors="replace"
    )


async def test_a_version_on_remote_storage_is_served_from_its_artifacts(
    gateway: GatewayFactory, catalog: CatalogService, target: Target
) -> None:
    publish(catalog, "answer", ANSWER, "1.0.0", {"answer.txt": b"from the store"})
    assert len(target.files()) == 1  # the artifact is on the server, not on this disk
    gw = await gateway()  # its settings have no storage_options: the catalog's store has them

    answered = await gw.client.post("/v2/models/answer/predict")
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"] == "from the store"
    assert answered.json()["model_dir"].endswith("/models/answer/1.0.0")
    (worker,) = gw.pool.loaded()
    seen = process_text(worker.pid)
    assert target.url in seen  # its config names the store...
    assert not any(secret in seen for secret in SECRETS)  # ...never its credentials


async def test_a_version_whose_artifacts_left_the_store_answers_503(
    gateway: GatewayFactory, catalog: CatalogService, target: Target
) -> None:
    publish(catalog, "answer", ANSWER, "1.0.0", {"answer.txt": b"from the store"})
    target.backend().fs.rm(target.backend().path, recursive=True)  # the store lost its objects
    gw = await gateway()

    refused = await gw.client.post("/v2/models/answer/predict")
    assert refused.status_code == 503, refused.text
    message = refused.json()["message"]
    assert message.startswith("module 'answer' 1.0.0: its artifacts cannot be fetched")
    assert "artifact not found: sha256:" in message
    assert gw.pool.loaded() == []


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to stop (SIGTERM, killed if they linger) after the test."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=10)


def test_up_serves_a_version_from_remote_storage_configured_by_its_environment(
    target: Target, tmp_path: Path, stopped: list[subprocess.Popen[str]]
) -> None:
    """``modelport up`` with MODELPORT_CATALOG_ARTIFACTS_URL and MODELPORT_STORAGE_OPTIONS
    (JSON): a catalog version's artifact on the server is what its model answers with."""
    data_dir = tmp_path / "data"
    publisher = build_catalog_service(
        Settings(
            data_dir=data_dir,
            catalog_artifacts_url=target.url,
            storage_options=target.storage_options,
        )
    )
    publish(publisher, "answer", ANSWER, "1.0.0", {"answer.txt": b"served by up"})
    port = free_port()
    env = env_for(data_dir)
    env["MODELPORT_CATALOG_ARTIFACTS_URL"] = target.url
    env["MODELPORT_STORAGE_OPTIONS"] = json.dumps(target.storage_options)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(ROOT)])  # tests.gateway.models
    proc = subprocess.Popen(
        up_command("--port", str(port)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped.append(proc)
    base = f"http://127.0.0.1:{port}"
    wait_ready(proc, base, limit_s=60)

    answered = httpx.post(f"{base}/v2/models/answer/predict", timeout=60)
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"] == "served by up"
    (worker,) = workers(data_dir)
    cmdline = Path(f"/proc/{worker}/cmdline").read_bytes().decode(errors="replace")
    assert not any(secret in cmdline for secret in SECRETS)

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert not any(secret in err for secret in SECRETS)  # nor in its log
