"""Search's totals and facet counts (a per-process bitset index of the catalog's facet terms)
against a reference computed here, and the index following every change of the catalog."""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from modelport.catalog.domain import Audience, Visibility
from modelport.catalog.registry import Registry
from modelport.catalog.search import FacetIndexes, search
from modelport.db import connect
from tests.catalog.test_registry import meta

LIBRARIES = ["PyTorch", "Keras", "XGBoost", "Scikit-learn"]
TASKS = ["Computer Vision", "Anomaly Detection", "Time Series"]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def catalog(engine: Engine) -> tuple[Registry, dict[str, tuple[set[str], set[str], bool]]]:
    """24 modules: libraries, tasks, every fifth deprecated, 'river' in every third's title."""
    registry = Registry(engine)
    rng = random.Random(7)
    known: dict[str, tuple[set[str], set[str], bool]] = {}
    for i in range(24):
        libraries = rng.sample(LIBRARIES, rng.randint(1, 2))
        tasks = rng.sample(TASKS, rng.randint(1, 2))
        title = f"{'River' if i % 3 == 0 else 'Forest'} model {i}"
        registry.publish(f"m{i:02d}", "1.0", meta(title, libraries=libraries, tasks=tasks))
        if i % 5 == 0:
            registry.deprecate(f"m{i:02d}")
        known[f"m{i:02d}"] = (set(libraries), set(tasks), i % 5 == 0)
    return registry, known


def expected(
    known: dict[str, tuple[set[str], set[str], bool]],
    library: str | None = None,
    river: bool = False,
    include_deprecated: bool = False,
) -> tuple[list[str], dict[str, dict[str, int]]]:
    names = sorted(
        name
        for name, (libraries, _, deprecated) in known.items()
        if (include_deprecated or not deprecated)
        and (library is None or library in libraries)
        and (not river or int(name[1:]) % 3 == 0)
    )
    libraries = Counter(lib for name in names for lib in known[name][0])
    tasks = Counter(task for name in names for task in known[name][1])
    return names, {"libraries": dict(libraries), "tasks": dict(tasks)}


@pytest.mark.parametrize("library", [None, "PyTorch", "Keras"])
@pytest.mark.parametrize("river", [False, True])
@pytest.mark.parametrize("include_deprecated", [False, True])
def test_totals_facets_and_pages_match_the_reference(
    catalog: tuple[Registry, dict[str, tuple[set[str], set[str], bool]]],
    library: str | None,
    river: bool,
    include_deprecated: bool,
) -> None:
    registry, known = catalog
    names, facets = expected(known, library, river, include_deprecated)
    filters = {"libraries": [library]} if library else {}
    query = "river" if river else ""
    options = {"filters": filters, "include_deprecated": include_deprecated, "sort": "name"}
    page = search(registry.engine, query, limit=5, offset=2, **options)  # type: ignore[arg-type]
    assert page.total == len(names)
    assert [m.name for m in page.modules] == names[2:7]
    for facet, counts in facets.items():
        assert page.facets[facet] == dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    everything = search(registry.engine, query, limit=100, **options)  # type: ignore[arg-type]
    assert [m.name for m in everything.modules] == names
    assert search(registry.engine, query, offset=len(names), **options).modules == []  # type: ignore[arg-type]


def test_the_index_follows_publishing_deprecating_and_visibility(
    catalog: tuple[Registry, dict[str, tuple[set[str], set[str], bool]]],
) -> None:
    registry, known = catalog
    holder = FacetIndexes()  # one index kept across the searches, as CatalogService does
    find = functools.partial(search, registry.engine, facet_indexes=holder)
    before = find(filters={"libraries": ["LightGBM"]})
    assert before.total == 0
    registry.publish("m01", "2.0", meta("Forest model 1", libraries=["LightGBM"], tasks=TASKS))
    after = find(filters={"libraries": ["LightGBM"]})
    assert [m.name for m in after.modules] == ["m01"]
    assert after.facets["tasks"] == dict.fromkeys(sorted(TASKS), 1)
    registry.publish("new", "1.0", meta("Forest new", libraries=["LightGBM"]))
    assert find(filters={"libraries": ["LightGBM"]}).total == 2
    registry.deprecate("m01")
    assert [m.name for m in find(filters={"libraries": ["LightGBM"]}).modules] == ["new"]
    registry.deprecate("m01", False)
    assert find(filters={"libraries": ["LightGBM"]}).total == 2
    registry.set_visibility("new", Visibility.PRIVATE)
    eve = Audience("eve")
    page = find(filters={"libraries": ["LightGBM"]}, audience=eve)
    assert [m.name for m in page.modules] == ["m01"]
    assert page.facets["libraries"] == {"LightGBM": 1}
    registry.set_visibility("new", Visibility.GROUP, ["lab"])
    lab = Audience("eve", ("lab",))
    assert find("forest new", audience=lab).total == 1
    assert find("forest new", audience=eve).total == 0
    assert len(known) == 24


def test_relevance_pages_rank_by_score_then_name(
    catalog: tuple[Registry, dict[str, tuple[set[str], set[str], bool]]],
) -> None:
    registry, _ = catalog
    everything = search(registry.engine, "model", limit=100, include_deprecated=True)
    assert everything.total == 24
    keys = [(-(m.score or 0.0), m.name) for m in everything.modules]
    assert keys == sorted(keys)
    pages = [
        search(registry.engine, "model", limit=5, offset=at, include_deprecated=True)
        for at in range(0, 25, 5)
    ]
    assert [m for page in pages for m in page.modules] == everything.modules
    by_name = search(
        registry.engine, "model", sort="name", limit=3, offset=21, include_deprecated=True
    )
    assert [m.name for m in by_name.modules] == ["m21", "m22", "m23"]
