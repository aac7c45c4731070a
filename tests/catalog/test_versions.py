"""Versions are PEP 440 or SemVer, aliases are names: wherever they enter the catalog.

The rules (``catalog/versions.py``), then every way in: the registry, a module's declared
version, ``--version`` on a directory or git publish, a training job published as a version,
an alias; over HTTP the answer is a 422 naming the field.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.catalog.sources import read_module
from modelport.catalog.versions import check_alias, check_version, is_version
from modelport.errors import InvalidInput
from modelport.jobs.domain import Job, JobStatus
from modelport.settings import Settings
from tests.catalog.gitrepos import make_repo
from tests.catalog.samples import FIXTURES

TYPED = FIXTURES / "sources" / "typed_module"
HINT = "use PEP 440 (1.2.0, 2.0rc1) or SemVer (1.2.0-beta.1)"

VERSIONS = [
    "1.0.0",
    "1.2",
    "2.0rc1",
    "1.0.post1.dev3",
    "1!2.0",
    "0+git.1a2b3c4d5e6f",  # what pbr/dynamic modules published from git become
    "1.0.0+local.7",
    "1.2.0-beta.1",
    "1.2.0-alpha.1+build.5",
    "v1.2.0",  # PEP 440 allows the leading v
]
NOT_VERSIONS = [
    "..",
    "../1.0",
    "1.0/evil",
    "1.0 ",
    "1. 0",
    "not a version",
    "latest",
    "stable",
    "1..0",
    "1.0\x00",
    "1.0\\x",
    "-1.0",
]


@pytest.mark.parametrize("version", VERSIONS)
def test_pep440_and_semver_versions_pass(version: str) -> None:
    assert check_version(version) == version
    assert is_version(version)


@pytest.mark.parametrize("version", NOT_VERSIONS)
def test_anything_else_is_refused_naming_the_field(version: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_version(version)
    assert caught.value.errors == {"version": [f"{version!r} is not a version: {HINT}"]}


def test_empty_and_long_versions() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_version("")
    assert caught.value.errors == {"version": [f"a version is required: {HINT}"]}
    with pytest.raises(InvalidInput) as caught:
        check_version("1." + "0" * 99)
    assert caught.value.errors == {"version": [f"a version has at most 100 characters: {HINT}"]}
    assert check_version("1." + "0" * 98)


def test_aliases_are_names_not_versions() -> None:
    for alias in ("stable", "prod-1", "Canary_2", "eu.west"):
        assert check_alias(alias) == alias
    refused = {
        "latest": "'latest' always follows the highest version.",
        "1.0.0": "'1.0.0' is a version: an alias is a name such as 'stable'",
        "v2": "'v2' is a version: an alias is a name such as 'stable'",
    }
    for alias, message in refused.items():
        with pytest.raises(InvalidInput) as caught:
            check_alias(alias)
        assert caught.value.errors == {"alias": [message]}
    for alias in ("", "a b", "../x", "a/b", "-x", "x-", "a..b", "é", "x" * 101):
        with pytest.raises(InvalidInput) as caught:
            check_alias(alias)
        assert list(caught.value.errors) == ["alias"], alias


# -- every way in -------------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


def module_with_version(tmp_path: Path, version: str) -> Path:
    module = shutil.copytree(TYPED, tmp_path / "module")
    pyproject = module / "pyproject.toml"
    text = pyproject.read_text().replace('version = "1.2.0"', f'version = "{version}"')
    pyproject.write_text(text)
    assert read_module(module).version == version
    return module


def test_the_registry_refuses_what_the_service_would(service: CatalogService) -> None:
    source = read_module(TYPED)
    with pytest.raises(InvalidInput) as caught:
        service.registry.publish(source.name, "../../x", source.metadata)
    assert caught.value.errors == {"version": [f"'../../x' is not a version: {HINT}"]}
    assert service.registry.names() == []


def test_a_declared_version_that_is_none_is_refused(
    service: CatalogService, tmp_path: Path
) -> None:
    module = module_with_version(tmp_path, "not a version")
    with pytest.raises(InvalidInput) as caught:
        service.publish_directory(module)
    assert caught.value.errors == {
        "version": [
            "the version the module declares in pyproject.toml: "
            f"'not a version' is not a version: {HINT}"
        ]
    }
    # --version overrides it, and is checked the same way
    with pytest.raises(InvalidInput) as caught:
        service.publish_directory(module, version="1.0/../..")
    assert list(caught.value.errors) == ["version"]
    assert service.publish_directory(module, version="1.0.0-beta.1").version == "1.0.0-beta.1"


@pytest.mark.usefixtures("git_identity")
def test_a_bad_version_is_refused_before_cloning(service: CatalogService, tmp_path: Path) -> None:
    missing = tmp_path / "missing"  # a clone would fail: the version is refused first
    with pytest.raises(InvalidInput) as caught:
        service.publish_repository(f"file://{missing}", version="..")
    assert list(caught.value.errors) == ["version"]
    repo = make_repo(tmp_path / "repo", TYPED)
    record = service.publish_repository(f"file://{repo}")
    assert record.version == "1.2.0"


def test_a_job_published_as_a_bad_version_is_refused(
    service: CatalogService, tmp_path: Path
) -> None:
    service.publish_directory(shutil.copytree(TYPED, tmp_path / "module"))
    assert service.jobs is not None
    artifacts = tmp_path / "job"
    artifacts.mkdir()
    (artifacts / "w.bin").write_bytes(b"w")
    job = service.jobs.create(Job(model="m", model_spec="m", artifacts_url=str(artifacts)))
    service.jobs.transition(job.id, JobStatus.RUNNING)
    service.jobs.transition(job.id, JobStatus.SUCCEEDED)
    for bad in ("", "x" * 200, "1.0 beta", "../2.0"):
        with pytest.raises(InvalidInput) as caught:
            service.publish_job(job.id, module="plant-classifier", version=bad)
        assert list(caught.value.errors) == ["version"], bad
    assert service.publish_job(job.id, module="plant-classifier", version="1.3.0").artifacts


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
async def http(service: CatalogService) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(service, Settings()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
        yield client


async def test_http_answers_422_naming_the_field(
    http: httpx.AsyncClient, service: CatalogService, tmp_path: Path
) -> None:
    module = shutil.copytree(TYPED, tmp_path / "module")
    for bad in ("not a version", "..", "1.0/x"):
        refused = await http.post("/catalog/modules", json={"source": str(module), "version": bad})
        assert refused.status_code == 422
        assert refused.json() == {"version": [f"{bad!r} is not a version: {HINT}"]}
    long = await http.post("/catalog/modules", json={"source": str(module), "version": "1" * 101})
    assert long.json() == {"version": [f"a version has at most 100 characters: {HINT}"]}
    created = await http.post("/catalog/modules", json={"source": str(module)})
    assert created.status_code == 201
    name = created.json()["module"]

    job = await http.post(
        f"/catalog/modules/{name}/versions", json={"job_id": "0" * 32, "version": "a b"}
    )
    assert job.status_code == 422
    assert job.json() == {"version": [f"'a b' is not a version: {HINT}"]}

    alias = await http.put(f"/catalog/modules/{name}/aliases/2.0", json={"version": "1.2.0"})
    assert alias.status_code == 422
    assert alias.json() == {"alias": ["'2.0' is a version: an alias is a name such as 'stable'"]}
    latest = await http.put(f"/catalog/modules/{name}/aliases/latest", json={"version": "1.2.0"})
    assert latest.json() == {"alias": ["'latest' always follows the highest version."]}
    stable = await http.put(f"/catalog/modules/{name}/aliases/prod-1", json={"version": "1.2.0"})
    assert stable.status_code == 200
    assert stable.json()["aliases"]["prod-1"] == "1.2.0"


# -- bulk import and the bundled examples ---------------------------------------------------------


@pytest.mark.usefixtures("git_identity")
def test_an_import_reports_a_module_declaring_no_version(
    service: CatalogService, tmp_path: Path
) -> None:
    bad = make_repo(tmp_path / "bad", module_with_version(tmp_path, "not a version"))
    good = make_repo(tmp_path / "good", TYPED)
    index = tmp_path / "modules.yml"
    index.write_text(f"- url: file://{bad}\n- url: file://{good}\n")
    report = service.import_index(index)
    name = read_module(TYPED).name
    assert report.errors == {
        name: "version: the version the module declares in pyproject.toml: "
        f"'not a version' is not a version: {HINT}"
    }
    assert report.published == [f"{name} 1.2.0"]


def test_seeding_refuses_an_example_with_a_bad_version(service: CatalogService) -> None:
    from modelport.catalog.files import load_metadata
    from modelport.catalog.setup import EXAMPLES, _publish
    from modelport.examples.iris import IrisClassifier

    class Unversioned(IrisClassifier):
        version = "one point oh"

    metadata = load_metadata(EXAMPLES / "iris.ai4-metadata.yml")
    with pytest.raises(InvalidInput) as caught:
        _publish(service, Unversioned, metadata, "x:Unversioned", "modelport")
    assert caught.value.errors == {"version": [f"'one point oh' is not a version: {HINT}"]}
    assert service.registry.names() == []
