"""Artifact names never lead out of their directory: publishing a job's files, pulling a version.

A training writes its artifact directory itself (module code): a symbolic link there must not
make the server publish a file of its own. A catalog record with an unsafe name (from an older
or a hostile server) must not make ``pull`` write outside its destination.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.catalog.domain import ArtifactRecord
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.catalog.sources import read_module
from modelport.cli.catalog import app
from modelport.errors import InvalidInput
from modelport.jobs.domain import Job, JobStatus
from modelport.settings import Settings
from tests.catalog.samples import FIXTURES

TYPED = FIXTURES / "sources" / "typed_module"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(data))  # what the CLI's Settings() read
    return data


@pytest.fixture
def service(data_dir: Path) -> CatalogService:
    service = build_catalog_service(Settings(data_dir=data_dir))
    service.publish_directory(TYPED)
    return service


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "server-secret.txt"
    path.write_text("the platform's secret\n")
    return path


def finished_job(service: CatalogService, tmp_path: Path, **files: str | Path) -> Job:
    """A succeeded job whose artifact directory holds ``files`` (text, or a link to a Path)."""
    assert service.jobs is not None
    job = Job(model="plant-classifier", model_spec="plant-classifier")
    root = tmp_path / "artifacts" / job.id
    root.mkdir(parents=True)
    for name, content in files.items():
        target = root / name.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            target.symlink_to(content)
        else:
            target.write_text(content)
    job.artifacts_url = str(root)
    service.jobs.create(job)
    service.jobs.transition(job.id, JobStatus.RUNNING)
    service.jobs.transition(job.id, JobStatus.SUCCEEDED)
    return job


def test_a_link_out_of_a_jobs_directory_refuses_the_publish(
    service: CatalogService, tmp_path: Path, secret: Path
) -> None:
    for links in ({"weights.pt": secret}, {"data": tmp_path}):
        job = finished_job(service, tmp_path, **{"ok.txt": "fine"}, **links)
        with pytest.raises(InvalidInput) as caught:
            service.publish_job(job.id, module="plant-classifier", version="2.0.0")
        (name,) = links
        assert caught.value.errors == {
            "artifacts": [f"{name!r} leads out of its directory through a symbolic link"]
        }
    assert [v.version for v in service.registry.versions("plant-classifier")] == ["1.2.0"]


def test_links_inside_a_jobs_directory_are_fine(service: CatalogService, tmp_path: Path) -> None:
    job = finished_job(service, tmp_path, **{"sub__w.bin": "weights"})
    root = Path(job.artifacts_url or "")
    (root / "alias.bin").symlink_to(root / "sub" / "w.bin")
    (root / "loop").symlink_to(root)  # a link to a directory inside: skipped, not followed
    record = service.publish_job(job.id, module="plant-classifier", version="2.0.0")
    assert [(a.name, a.size) for a in record.artifacts] == [("alias.bin", 7), ("sub/w.bin", 7)]


async def test_over_http_the_refusal_is_a_422_without_server_paths(
    service: CatalogService, tmp_path: Path, secret: Path
) -> None:
    job = finished_job(service, tmp_path, **{"weights.pt": secret})
    application = FastAPI()
    install_error_handlers(application, False)
    application.include_router(catalog_router(service, Settings()))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = await http.post(
            "/catalog/modules/plant-classifier/versions",
            json={"job_id": job.id, "version": "2.0.0"},
        )
    assert answer.status_code == 422
    assert answer.json() == {
        "artifacts": ["'weights.pt' leads out of its directory through a symbolic link"]
    }
    assert str(tmp_path) not in answer.text


@pytest.fixture
def unsafe_version(service: CatalogService) -> str:
    """A version whose record names an artifact '../../escape.txt' (written past the service,
    as an older or a hostile catalog may hold one)."""
    stored = service.artifacts.put(b"escaped")
    record = ArtifactRecord(name="../../escape.txt", sha256=stored.sha256, size=stored.size)
    base = service.registry.version("plant-classifier")
    service.registry.publish(
        "plant-classifier",
        "6.6.6",
        read_module(TYPED).metadata,
        load_spec=base.load_spec,
        artifacts=[record],
    )
    return "6.6.6"


def test_pull_refuses_a_name_that_leaves_the_destination(
    unsafe_version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "a" / "b" / "out"
    result = CliRunner().invoke(
        app, ["pull", "plant-classifier", "--version", unsafe_version, "--dest", str(dest)]
    )
    assert result.exit_code == 2
    assert "'../../escape.txt' contains '..'" in result.stderr
    assert not (tmp_path / "a" / "escape.txt").exists()
    assert not list(tmp_path.rglob("escape.txt"))


@pytest.mark.slow
def test_pull_from_a_server_checks_every_name_before_writing(
    data_dir: Path, unsafe_version: str, tmp_path: Path
) -> None:
    from tests.cli.test_catalog_remote import ThreadServer

    dest = tmp_path / "x" / "y" / "out"
    args = ["pull", "plant-classifier", "--version", unsafe_version, "--dest", str(dest)]
    with ThreadServer(data_dir) as server:
        result = CliRunner().invoke(app, [*args, "--url", server.url])
    assert result.exit_code == 2, result.output
    assert "'../../escape.txt' contains '..'" in result.stderr
    assert not list(tmp_path.rglob("escape.txt"))
    assert not dest.exists()
