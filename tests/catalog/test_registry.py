"""The registry and its search on SQLite and PostgreSQL: versions, aliases, facets, ranking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from modelport.catalog import ModuleMetadata, load_metadata, validate_metadata
from modelport.catalog.domain import ArtifactRecord, Audience, Lineage, Visibility
from modelport.catalog.registry import Registry
from modelport.catalog.search import search
from modelport.db import connect
from modelport.db.engine import make_engine
from modelport.db.migrate import upgrade
from modelport.errors import Conflict, Forbidden, InvalidInput, NotFound
from modelport.jobs.domain import utcnow
from tests.catalog.samples import FIXTURES


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    return Registry(engine)


def meta(title: str, summary: str = "A module.", **fields: Any) -> ModuleMetadata:
    base: dict[str, Any] = {
        "metadata_version": "2.3.0",
        "title": title,
        "summary": summary,
        "description": fields.pop("description", f"{title}: {summary}"),
        "links": {"source_code": f"https://example.org/{title.lower().replace(' ', '-')}"},
        "libraries": fields.pop("libraries", ["PyTorch"]),
        "tasks": fields.pop("tasks", ["Computer Vision"]),
        "categories": fields.pop("categories", ["AI4 trainable"]),
        "tags": fields.pop("tags", ["deep learning"]),
        **fields,
    }
    return validate_metadata(base)


def test_publish_and_read_versions(registry: Registry) -> None:
    registry.publish(
        "plants",
        "1.0.0",
        meta("Plant classifier"),
        load_spec="plants.api:Model",
        package="plants",
        published_by="ada",
    )
    registry.publish("plants", "1.10.0", meta("Plant classifier v2"))
    registry.publish("plants", "1.2.0", meta("Plant classifier old branch"))
    module = registry.module("plants")
    assert module.latest_version == "1.10.0", "PEP 440 order, not text order"
    assert module.title == "Plant classifier v2"
    assert module.aliases == {"latest": "1.10.0"}
    assert module.owner == "ada"
    assert [v.version for v in registry.versions("plants")] == ["1.10.0", "1.2.0", "1.0.0"]
    first = registry.version("plants", "1.0.0")
    assert first.load_spec == "plants.api:Model"
    assert first.metadata["title"] == "Plant classifier"
    assert registry.version("plants").version == "1.10.0"


def test_versions_are_immutable(registry: Registry) -> None:
    registry.publish("plants", "1.0.0", meta("Plant classifier"))
    with pytest.raises(Conflict, match="immutable"):
        registry.publish("plants", "1.0.0", meta("Changed"))
    assert registry.version("plants", "1.0.0").metadata["title"] == "Plant classifier"


def test_aliases_lineage_artifacts_and_deprecation(registry: Registry) -> None:
    registry.publish("plants", "1.0.0", meta("Plant classifier"))
    weights = ArtifactRecord(name="weights.pt", sha256="a" * 64, size=10, media_type="x/y")
    registry.publish(
        "plants",
        "1.1.0",
        meta("Plant classifier"),
        artifacts=[weights],
        lineage=Lineage(job_id="f" * 32, base_version="1.0.0", data_url="s3://data/plants"),
    )
    registry.set_alias("plants", "stable", "1.0.0")
    assert registry.module("plants").aliases == {"latest": "1.1.0", "stable": "1.0.0"}
    assert registry.version("plants", "stable").version == "1.0.0"
    retrained = registry.version("plants", "1.1.0")
    assert retrained.lineage == Lineage(
        job_id="f" * 32, base_version="1.0.0", data_url="s3://data/plants"
    )
    assert retrained.artifacts == [weights]
    with pytest.raises(InvalidInput):
        registry.set_alias("plants", "latest", "1.0.0")
    with pytest.raises(NotFound):
        registry.set_alias("plants", "stable", "9.9.9")
    assert registry.deprecate("plants", message="use plants2").deprecated
    assert registry.module("plants").deprecation_message == "use plants2"
    with pytest.raises(NotFound):
        registry.deprecate("nope")


def test_unknown_and_invalid(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.module("nope")
    with pytest.raises(NotFound):
        registry.version("nope", "1.0")
    registry.publish("plants", "1.0.0", meta("Plant classifier"))
    with pytest.raises(NotFound, match="no version or alias 'stable'"):
        registry.version("plants", "stable")
    with pytest.raises(InvalidInput):
        registry.publish("Bad Name", "1.0", meta("x"))
    with pytest.raises(InvalidInput):
        registry.publish("ok", "a/b", meta("x"))


@pytest.fixture
def catalog(registry: Registry) -> Registry:
    registry.publish(
        "plants",
        "1.0.0",
        meta(
            "Plant classifier",
            "Identify plant species from photos",
            description="Transfer learning on leaves and flowers.",
            libraries=["PyTorch"],
            tasks=["Computer Vision"],
            tags=["plants", "images"],
            license="Apache-2.0",
            **{"data-type": ["Image"]},
        ),
    )
    registry.publish(
        "phyto",
        "2.0.0",
        meta(
            "Phytoplankton classifier",
            "Classify plankton images from a flow cytometer",
            libraries=["TensorFlow"],
            tasks=["Computer Vision"],
            tags=["plankton", "images"],
            license="MIT",
            **{"data-type": ["Image"]},
        ),
    )
    registry.publish(
        "intrusion",
        "0.3.0",
        meta(
            "Network intrusion detection",
            "Anomaly detection on network flows",
            libraries=["Scikit-learn"],
            tasks=["Anomaly Detection"],
            tags=["security", "streams"],
            license="MIT",
            **{"data-type": ["Time Series"]},
        ),
    )
    registry.publish("old-plants", "0.1.0", meta("Plant classifier (old)", tags=["plants"]))
    registry.deprecate("old-plants")
    return registry


def test_search_ranks_full_text_matches(catalog: Registry) -> None:
    page = search(catalog.engine, "plant classifier")
    assert next(m.name for m in page.modules) == "plants"
    assert "intrusion" not in [m.name for m in page.modules]
    assert page.total == len(page.modules)
    assert all(m.score is not None for m in page.modules)
    prefix = search(catalog.engine, "plankt")
    assert [m.name for m in prefix.modules] == ["phyto"]
    described = search(catalog.engine, "flowers")
    assert [m.name for m in described.modules] == ["plants"]
    assert search(catalog.engine, "!!!").total == 0


def test_facets_filters_sort_and_pages(catalog: Registry) -> None:
    page = search(catalog.engine, sort="name")
    assert [m.name for m in page.modules] == ["intrusion", "phyto", "plants"]
    assert page.facets["tasks"] == {"Computer Vision": 2, "Anomaly Detection": 1}
    assert page.facets["license"] == {"MIT": 2, "Apache-2.0": 1}
    assert page.facets["data-type"] == {"Image": 2, "Time Series": 1}
    images = search(catalog.engine, filters={"data-type": ["Image"], "license": ["MIT"]})
    assert [m.name for m in images.modules] == ["phyto"]
    assert images.facets["libraries"] == {"TensorFlow": 1}
    second = search(catalog.engine, sort="name", limit=2, offset=2)
    assert [m.name for m in second.modules] == ["plants"]
    assert second.total == 3
    with_old = search(catalog.engine, "plant", include_deprecated=True)
    assert "old-plants" in [m.name for m in with_old.modules]
    with pytest.raises(InvalidInput):
        search(catalog.engine, filters={"colour": ["red"]})
    with pytest.raises(InvalidInput):
        search(catalog.engine, sort="random")


def test_a_new_version_reindexes_search_and_facets(catalog: Registry) -> None:
    catalog.publish(
        "intrusion",
        "0.4.0",
        meta(
            "Intrusion detection",
            "Anomaly detection on network flows with autoencoders",
            libraries=["PyTorch"],
            tasks=["Anomaly Detection"],
            tags=["security"],
        ),
    )
    assert [m.name for m in search(catalog.engine, "autoencoders").modules] == ["intrusion"]
    hit = search(catalog.engine, "autoencoders").modules[0]
    assert hit.libraries == ["PyTorch"]
    assert search(catalog.engine, filters={"libraries": ["Scikit-learn"]}).total == 0


def test_real_metadata_files_publish(registry: Registry) -> None:
    for path in [*sorted(FIXTURES.glob("*.ai4-metadata.*")), FIXTURES / "plant_classifier_v1.json"]:
        metadata = load_metadata(path)
        name = path.name.split(".")[0].replace("_", "-")
        registry.publish(name, "1.0.0", metadata)
    assert len(registry.names()) == 4
    assert search(registry.engine).total == 4


# -- visibility --------------------------------------------------------------------------------


@pytest.fixture
def shared(registry: Registry) -> Registry:
    """ada's public, group (lab, eu) and private modules, and bob's private one."""
    for name, owner, visibility, groups, library in (
        ("pub", "ada", Visibility.PUBLIC, [], "PyTorch"),
        ("grp", "ada", Visibility.GROUP, ["lab", "eu"], "Keras"),
        ("priv", "ada", Visibility.PRIVATE, [], "XGBoost"),
        ("bobs", "bob", Visibility.PRIVATE, [], "Scikit-learn"),
    ):
        registry.publish(
            name,
            "1.0",
            meta(f"Forest {name}", libraries=[library]),
            published_by=owner,
            visibility=visibility,
            groups=groups,
        )
    return registry


def seen(registry: Registry, audience: Audience | None, query: str = "") -> list[str]:
    page = search(registry.engine, query, audience=audience, sort="name")
    return [m.name for m in page.modules]


def test_search_and_names_filter_by_visibility(shared: Registry) -> None:
    ada, bob = Audience("ada"), Audience("bob", ("eu",))
    stranger = Audience("eve", ("other",))
    assert seen(shared, None) == ["bobs", "grp", "priv", "pub"]
    assert seen(shared, ada) == ["grp", "priv", "pub"]
    assert seen(shared, bob) == ["bobs", "grp", "pub"]
    assert seen(shared, stranger) == ["pub"]
    assert seen(shared, Audience("eve")) == ["pub"]
    assert seen(shared, stranger, "forest") == ["pub"]
    assert seen(shared, bob, "forest") == ["bobs", "grp", "pub"]
    page = search(shared.engine, audience=bob)
    assert page.total == 3
    assert page.facets["libraries"] == {"Keras": 1, "PyTorch": 1, "Scikit-learn": 1}
    assert {m.name: m.visibility for m in page.modules}["grp"] is Visibility.GROUP
    assert shared.names(stranger) == ["pub"]
    assert shared.names(bob) == ["bobs", "grp", "pub"]


def test_module_records_visibility_and_groups(shared: Registry) -> None:
    grp = shared.module("grp")
    assert (grp.owner, grp.visibility, grp.groups) == ("ada", Visibility.GROUP, ["eu", "lab"])
    assert shared.module("pub").visibility is Visibility.PUBLIC
    changed = shared.set_visibility("grp", Visibility.PRIVATE, ["ignored"])
    assert (changed.visibility, changed.groups) == (Visibility.PRIVATE, [])
    assert seen(shared, Audience("bob", ("eu",))) == ["bobs", "pub"]
    with pytest.raises(InvalidInput):
        shared.set_visibility("pub", Visibility.GROUP, [" "])
    with pytest.raises(NotFound):
        shared.set_visibility("nope", Visibility.PUBLIC)


def test_publish_keeps_or_replaces_visibility_and_checks_the_owner(shared: Registry) -> None:
    shared.publish("grp", "1.1", meta("Forest grp"), published_by="ada", expect_owner="ada")
    assert shared.module("grp").groups == ["eu", "lab"]  # kept when not given
    with pytest.raises(Forbidden, match="belongs to someone else"):
        shared.publish("grp", "1.2", meta("Forest grp"), published_by="bob", expect_owner="bob")
    assert [v.version for v in shared.versions("grp")] == ["1.1", "1.0"]
    shared.publish("grp", "2.0", meta("Forest grp"), visibility=Visibility.PUBLIC)
    assert (shared.module("grp").visibility, shared.module("grp").groups) == ("public", [])
    assert shared.module("grp").owner == "ada"


def test_modules_published_before_visibility_existed_stay_public(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO catalog_modules (name, title, summary, owner, deprecated, "
                    "created_at, updated_at) VALUES ('old', 'Old', 'An old one.', 'ada', "
                    ":no, :now, :now)"
                ),
                {"no": False, "now": utcnow()},
            )
        upgrade(engine)
        old = Registry(engine).module("old")
        assert (old.visibility, old.groups, old.owner) == (Visibility.PUBLIC, [], "ada")
    finally:
        engine.dispose()
