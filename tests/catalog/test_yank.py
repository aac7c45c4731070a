"""Yanked versions, aliases and once-only job publication, on SQLite and PostgreSQL.

A yanked version leaves ``latest`` (which moves to the highest version left, or to none), the
version listings and search, but its exact number still names it; aliases keep naming it.
A training job becomes one version at most.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from modelport.auth.config import Principal
from modelport.catalog import ModuleMetadata, validate_metadata
from modelport.catalog.domain import Lineage, Visibility
from modelport.catalog.registry import Registry
from modelport.catalog.search import search
from modelport.catalog.service import CatalogService
from modelport.db import connect
from modelport.errors import Conflict, Forbidden, InvalidInput, NotFound
from modelport.jobs.domain import Job, JobStatus
from modelport.jobs.store import JobStore
from modelport.storage import ArtifactStore

ALL_YANKED = (
    "every version of module 'plants' is yanked: there is no latest version; a yanked "
    "version still answers by its exact number (versions/<version>)"
)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    return Registry(engine)


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> CatalogService:
    return CatalogService(
        Registry(engine), ArtifactStore(str(tmp_path / "artifacts")), JobStore(engine)
    )


def meta(title: str, *tags: str, **fields: Any) -> ModuleMetadata:
    return validate_metadata(
        {
            "metadata_version": "2.3.0",
            "title": title,
            "summary": f"{title}, summarised.",
            "description": f"{title}, described.",
            "links": {"source_code": "https://example.org/plants"},
            "libraries": ["PyTorch"],
            "tasks": ["Computer Vision"],
            "categories": ["AI4 trainable"],
            "tags": list(tags) or ["plants"],
            **fields,
        }
    )


def plants(registry: Registry) -> None:
    registry.publish("plants", "1.0.0", meta("Plants one", "first"))
    registry.publish("plants", "1.1.0", meta("Plants one-one", "second"))
    registry.publish("plants", "2.0.0", meta("Plants two", "third"))


def test_a_yanked_version_leaves_latest_and_listings(registry: Registry, engine: Engine) -> None:
    plants(registry)
    record = registry.yank("plants", "2.0.0", "  trained on the wrong labels ", "test|ada")
    assert (record.yanked, record.yanked_reason, record.yanked_by) == (
        True,
        "trained on the wrong labels",
        "test|ada",
    )
    assert record.yanked_at is not None

    module = registry.module("plants")
    assert module.latest_version == "1.1.0"
    assert module.aliases == {"latest": "1.1.0"}
    assert module.yanked_versions == ["2.0.0"]
    assert module.title == "Plants one-one"  # the module reads as its new latest
    assert registry.version("plants").version == "1.1.0"
    assert [v.version for v in registry.versions("plants")] == ["1.1.0", "1.0.0"]
    listed = registry.versions("plants", include_yanked=True)
    assert [(v.version, v.yanked) for v in listed] == [
        ("2.0.0", True),
        ("1.1.0", False),
        ("1.0.0", False),
    ]
    # still there by its exact number, for whoever used it
    exact = registry.version("plants", "2.0.0")
    assert (exact.version, exact.yanked, exact.yanked_reason) == (
        "2.0.0",
        True,
        "trained on the wrong labels",
    )
    # search shows the new latest and its facets; the yanked version's tags are gone
    [hit] = search(engine, "plants").modules
    assert (hit.latest_version, hit.tags) == ("1.1.0", ["second"])
    assert search(engine, filters={"tags": ["third"]}).total == 0
    assert search(engine, filters={"tags": ["second"]}).total == 1

    with pytest.raises(Conflict, match="already yanked"):
        registry.yank("plants", "2.0.0", "again")
    back = registry.unyank("plants", "2.0.0")
    assert (back.yanked, back.yanked_reason, back.yanked_at, back.yanked_by) == (
        False,
        None,
        None,
        None,
    )
    assert registry.module("plants").latest_version == "2.0.0"
    assert registry.module("plants").yanked_versions == []
    assert search(engine, filters={"tags": ["third"]}).total == 1
    with pytest.raises(Conflict, match=re.escape("plants 2.0.0 is not yanked")):
        registry.unyank("plants", "2.0.0")


def test_yanking_a_lower_version_keeps_latest(registry: Registry) -> None:
    plants(registry)
    registry.yank("plants", "1.0.0", "broken")
    module = registry.module("plants")
    assert (module.latest_version, module.yanked_versions) == ("2.0.0", ["1.0.0"])
    assert [v.version for v in registry.versions("plants")] == ["2.0.0", "1.1.0"]


def test_when_every_version_is_yanked_there_is_no_latest(
    registry: Registry, engine: Engine
) -> None:
    plants(registry)
    registry.publish("audio", "0.1.0", meta("Audio", "sound"))
    for version in ("2.0.0", "1.0.0", "1.1.0"):
        registry.yank("plants", version, "withdrawn")
    module = registry.module("plants")
    assert (module.latest_version, module.aliases) == (None, {})
    assert module.yanked_versions == ["2.0.0", "1.1.0", "1.0.0"]
    with pytest.raises(NotFound) as caught:
        registry.version("plants")
    assert caught.value.message == ALL_YANKED
    assert registry.version("plants", "1.1.0").yanked  # exact numbers still answer
    assert registry.versions("plants") == []
    # hidden from listings and search, unless asked for
    assert registry.names(with_latest=True) == ["audio"]
    assert registry.names() == ["audio", "plants"]
    assert [h.name for h in search(engine, "").modules] == ["audio"]
    page = search(engine, "", include_yanked=True)
    assert [(h.name, h.latest_version) for h in page.modules] == [
        ("audio", "0.1.0"),
        ("plants", None),
    ]
    assert [h.name for h in search(engine, "plants", include_yanked=True).modules] == ["plants"]
    assert search(engine, "plants").total == 0

    # a new version (even a lower one) is the latest again; unyanking picks the highest
    registry.publish("plants", "0.9.0", meta("Plants nought-nine"))
    assert registry.module("plants").latest_version == "0.9.0"
    assert registry.unyank("plants", "1.1.0").version == "1.1.0"
    assert registry.module("plants").latest_version == "1.1.0"
    assert [h.name for h in search(engine, "plants").modules] == ["plants"]


def test_yank_names_an_exact_version_and_a_reason(registry: Registry) -> None:
    plants(registry)
    registry.set_alias("plants", "stable", "1.0.0")
    with pytest.raises(InvalidInput) as caught:
        registry.yank("plants", "stable", "no")  # an alias is not what gets yanked
    assert list(caught.value.errors) == ["version"]
    with pytest.raises(NotFound, match=re.escape("module 'plants' has no version '9.9.9'")):
        registry.yank("plants", "9.9.9", "no")
    with pytest.raises(NotFound, match="module 'nope' not found"):
        registry.yank("nope", "1.0.0", "no")
    with pytest.raises(NotFound, match=re.escape("module 'plants' has no version '9.9.9'")):
        registry.unyank("plants", "9.9.9")
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput) as caught:
            registry.yank("plants", "1.0.0", reason)  # type: ignore[arg-type]
        assert caught.value.errors == {
            "reason": ["say why the version is yanked (e.g. 'wrong weights')"]
        }
    with pytest.raises(InvalidInput) as caught:
        registry.yank("plants", "1.0.0", "x" * 1001)
    assert caught.value.errors == {"reason": ["a reason has at most 1000 characters"]}
    assert registry.module("plants").yanked_versions == []


def test_aliases_keep_naming_a_yanked_version_but_none_moves_onto_one(registry: Registry) -> None:
    plants(registry)
    registry.set_alias("plants", "stable", "1.0.0")
    registry.yank("plants", "1.0.0", "bad weights")
    stable = registry.version("plants", "stable")
    assert (stable.version, stable.yanked) == ("1.0.0", True)
    module = registry.module("plants")
    assert module.aliases["stable"] == "1.0.0"
    assert module.yanked_versions == ["1.0.0"]
    with pytest.raises(Conflict, match=r"plants 1.0.0 is yanked \(bad weights\)"):
        registry.set_alias("plants", "prod", "1.0.0")
    with pytest.raises(Conflict, match="is yanked"):  # nor through another alias
        registry.set_alias("plants", "prod", "stable")
    # moving and removing it
    assert registry.set_alias("plants", "stable", "1.1.0").aliases["stable"] == "1.1.0"
    assert "stable" not in registry.remove_alias("plants", "stable").aliases
    with pytest.raises(NotFound, match="module 'plants' has no alias 'stable'"):
        registry.remove_alias("plants", "stable")
    with pytest.raises(NotFound, match="module 'nope' not found"):
        registry.remove_alias("nope", "stable")
    with pytest.raises(InvalidInput) as caught:
        registry.remove_alias("plants", "latest")
    assert caught.value.errors == {"alias": ["'latest' always follows the highest version."]}
    assert registry.module("plants").aliases == {"latest": "2.0.0"}


def succeeded_job(service: CatalogService, tmp_path: Path, name: str = "job") -> Job:
    assert service.jobs is not None
    artifacts = tmp_path / name
    artifacts.mkdir()
    (artifacts / "weights.pt").write_bytes(b"trained")
    job = service.jobs.create(Job(model="plants", model_spec="p", artifacts_url=str(artifacts)))
    service.jobs.transition(job.id, JobStatus.RUNNING)
    service.jobs.transition(job.id, JobStatus.SUCCEEDED)
    return job


def test_a_job_is_published_once(service: CatalogService, tmp_path: Path) -> None:
    plants(service.registry)
    job = succeeded_job(service, tmp_path)
    assert service.publication(job.id) is None
    record = service.publish_job(job.id, module="plants", version="2.1.0")
    assert record.lineage.job_id == job.id
    assert service.publication(job.id) == ("plants", "2.1.0")
    message = f"job {job.id} is already published as plants 2.1.0"
    with pytest.raises(Conflict) as caught:
        service.publish_job(job.id, module="plants", version="2.2.0")
    assert caught.value.message == message
    # the registry's own check, where two publishes race past the service's
    with pytest.raises(Conflict) as caught:
        service.registry.publish("plants", "2.2.0", meta("Plants"), lineage=Lineage(job_id=job.id))
    assert caught.value.message == message
    assert [v.version for v in service.registry.versions("plants")][:2] == ["2.1.0", "2.0.0"]
    # yanking the version does not make the job publishable again
    service.registry.yank("plants", "2.1.0", "overfitted")
    with pytest.raises(Conflict, match=re.escape("already published as plants 2.1.0")):
        service.publish_job(job.id, module="plants", version="2.2.0")
    other = succeeded_job(service, tmp_path, "other")
    assert service.publish_job(other.id, module="plants", version="2.2.0").version == "2.2.0"


def caller(subject: str, *roles: str) -> Principal:
    return Principal(subject=subject, issuer="test", roles=frozenset(roles))


def test_only_the_owner_or_an_admin_yanks(service: CatalogService) -> None:
    ada, bob, root = caller("ada", "publisher"), caller("bob", "publisher"), caller("r", "admin")
    reader = caller("ada", "user")
    service.registry.publish("plants", "1.0.0", meta("Plants"), published_by="test|ada")
    service.registry.publish("plants", "1.1.0", meta("Plants"))
    with pytest.raises(Forbidden, match="belongs to someone else"):
        service.yank("plants", "1.1.0", "mine now", principal=bob)
    with pytest.raises(Forbidden, match="'publisher' role"):
        service.yank("plants", "1.1.0", "no role", principal=reader)
    record = service.yank("plants", "1.1.0", "bad", principal=ada)
    assert record.yanked_by == "test|ada"
    with pytest.raises(Forbidden):
        service.unyank("plants", "1.1.0", principal=bob)
    with pytest.raises(Forbidden):
        service.remove_alias("plants", "latest", principal=bob)
    assert not service.unyank("plants", "1.1.0", principal=root).yanked
    assert service.yank("plants", "1.0.0", "old", principal=root).yanked_by == "test|r"
    # a module bob cannot see is not found, not forbidden
    service.set_visibility("plants", Visibility.PRIVATE, principal=ada)
    with pytest.raises(NotFound, match="module 'plants' not found"):
        service.yank("plants", "1.1.0", "hidden", principal=bob)
    with pytest.raises(NotFound, match="module 'plants' not found"):
        service.versions("plants", bob, include_yanked=True)
    listed = service.versions("plants", ada, include_yanked=True)
    assert [(v.version, v.yanked) for v in listed] == [("1.1.0", False), ("1.0.0", True)]
