"""Catalog use cases on a real store: publish (dir, git, job), bulk import, seeding."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelport.auth.config import Principal
from modelport.catalog.domain import Visibility
from modelport.catalog.service import CatalogService, is_server_local
from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.catalog.sources import read_module
from modelport.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from modelport.jobs.domain import Job, JobStatus, utcnow
from modelport.settings import Settings
from tests.catalog.gitrepos import commit, make_repo
from tests.catalog.samples import FIXTURES

TYPED = FIXTURES / "sources" / "typed_module"
DEEP = FIXTURES / "sources" / "deep_module"
pytestmark = pytest.mark.usefixtures("git_identity")


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


def test_publish_a_directory_with_artifacts(service: CatalogService, tmp_path: Path) -> None:
    module = shutil.copytree(TYPED, tmp_path / "module")
    (module / "weights.bin").write_bytes(b"\x01" * 1000)
    record = service.publish_directory(module, artifacts=[Path("weights.bin")], published_by="ada")
    assert (record.module, record.version) == ("plant-classifier", "1.2.0")
    assert record.load_spec == "plant_classifier.model:PlantClassifier"
    assert record.published_by == "ada"
    [weights] = record.artifacts
    assert (weights.name, weights.size) == ("weights.bin", 1000)
    assert service.artifacts.verify(weights.sha256)
    with pytest.raises(Conflict):
        service.publish_directory(module)
    with pytest.raises(InvalidInput):
        service.publish_directory(module, version="1.3.0", artifacts=[Path("missing.bin")])


def test_a_git_module_without_static_version_is_versioned_by_commit(
    service: CatalogService, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "deep", DEEP)
    record = service.publish_repository(f"file://{repo}")
    assert record.version.startswith("0+git.")
    assert record.source_url == f"file://{repo}"
    head = commit(repo, {"README.rst": "changed\n"}, "second")
    again = service.publish_repository(f"file://{repo}")
    assert again.version == f"0+git.{head[:12]}"
    assert service.registry.module(record.module).latest_version in {record.version, again.version}


def test_import_an_index_picks_up_changes_at_once(service: CatalogService, tmp_path: Path) -> None:
    typed = make_repo(tmp_path / "typed", TYPED)
    deep = make_repo(tmp_path / "deep", DEEP)
    index = tmp_path / "modules.yml"
    index.write_text(
        f"- url: file://{typed}\n- url: file://{deep}\n- url: file://{tmp_path / 'missing'}\n"
    )
    first = service.import_index(index)
    assert len(first.published) == 2
    assert len(first.errors) == 1
    second = service.import_index(index)
    assert second.published == []
    assert sorted(second.unchanged) == sorted(first.published)
    commit(deep, {"README.rst": "new\n"}, "update")
    third = service.import_index(index)
    assert len(third.published) == 1
    assert third.published[0].startswith(first.published[1].split(" ")[0])


def test_publish_a_training_job_with_lineage(service: CatalogService, tmp_path: Path) -> None:
    module = shutil.copytree(TYPED, tmp_path / "module")
    service.publish_directory(module)
    assert service.jobs is not None
    artifacts = tmp_path / "job-artifacts"
    (artifacts / "checkpoints").mkdir(parents=True)
    (artifacts / "weights.pt").write_bytes(b"trained")
    (artifacts / "checkpoints" / "1.ckpt").write_bytes(b"c")
    job = service.jobs.create(
        Job(
            model="plant-classifier",
            model_spec="plant-classifier",
            args={"data": "s3://bucket/plants.zip"},
            artifacts_url=str(artifacts),
        )
    )
    with pytest.raises(IllegalTransition):
        service.publish_job(job.id, module="plant-classifier", version="1.3.0")
    service.jobs.transition(job.id, JobStatus.RUNNING)
    service.jobs.transition(job.id, JobStatus.SUCCEEDED, finished_at=utcnow())
    record = service.publish_job(job.id, module="plant-classifier", version="1.3.0")
    assert record.lineage.job_id == job.id
    assert record.lineage.base_version == "1.2.0"
    assert record.lineage.data_url == "s3://bucket/plants.zip"
    assert [a.name for a in record.artifacts] == ["checkpoints/1.ckpt", "weights.pt"]
    assert record.load_spec == "plant_classifier.model:PlantClassifier"
    assert service.registry.module("plant-classifier").latest_version == "1.3.0"


def test_seed_publishes_the_examples_once(service: CatalogService) -> None:
    assert seed_examples(service, pilots=False) == ["iris 1.0.0"]
    assert seed_examples(service) == []
    iris = service.registry.version("iris")
    assert iris.load_spec == "modelport.examples.iris:IrisClassifier"
    assert json.loads(json.dumps(iris.metadata))["license"] == "Apache-2.0"
    assert service.search("iris").modules[0].name == "iris"


# -- publishing as a caller (auth.policy) ---------------------------------------------------------


def caller(subject: str, *roles: str) -> Principal:
    return Principal(subject=subject, issuer="test", roles=frozenset(roles))


def test_publishing_as_a_caller_records_and_checks_the_owner(service: CatalogService) -> None:
    source = read_module(TYPED)
    ada, bob, root = caller("ada", "publisher"), caller("bob", "publisher"), caller("r", "admin")
    first = service.publish_source(source, principal=ada, visibility=Visibility.PRIVATE)
    assert first.published_by == "test|ada"  # the (issuer, subject) identity
    module = service.registry.module(first.module)
    assert (module.owner, module.visibility) == ("test|ada", Visibility.PRIVATE)
    # ada's module is private: to bob it does not exist, even when he publishes into it
    # (a 403 "belongs to someone else" would tell him it does; issue #12)
    with pytest.raises(NotFound, match=f"module '{first.module}' not found"):
        service.publish_source(source, version="1.3", principal=bob)
    service.set_visibility(first.module, Visibility.PUBLIC, principal=ada)
    with pytest.raises(Forbidden, match="belongs to someone else"):  # seen, not his: 403
        service.publish_source(source, version="1.3", principal=bob)
    service.set_visibility(first.module, Visibility.PRIVATE, principal=ada)
    with pytest.raises(Forbidden, match="'publisher' role"):
        service.publish_source(source, version="1.3", principal=caller("ada", "user"))
    service.publish_source(source, version="1.3", principal=ada)
    service.publish_source(source, version="1.4", principal=root)
    assert service.registry.module(first.module).owner == "test|ada"
    assert [v.version for v in service.versions(first.module, ada)] == ["1.4", "1.3", "1.2.0"]
    with pytest.raises(NotFound):
        service.versions(first.module, bob)
    with pytest.raises(Forbidden, match="for admins"):
        service.publish_directory(TYPED, principal=ada)


def test_which_sources_git_reads_from_the_servers_disk() -> None:
    for local in ("/srv/x", "./x", "x", "../x", "file:///srv/x", "FILE://x", "c/d:e"):
        assert is_server_local(local), local
    for remote in ("https://h/x.git", "ssh://git@h/x", "git@h:x.git", "h:x", "git://h/x"):
        assert not is_server_local(remote), remote
