"""What the pages compute: queries, facets, pages, versions, citations."""

from __future__ import annotations

from datetime import UTC, datetime

from modelport.catalog.domain import SearchHit, SearchPage, VersionRecord
from modelport.ui.pages import (
    PAGE_SIZE,
    SearchQuery,
    citation,
    facet_sections,
    next_version,
    pager,
    resource_rows,
)


def test_query_parsing_and_round_trip() -> None:
    query = SearchQuery.parse(
        {"q": [" plant "], "tasks": ["Classification", ""], "bogus": ["x"], "page": ["2"]}
    )
    assert (query.q, query.filters, query.page) == ("plant", {"tasks": ["Classification"]}, 2)
    assert query.offset == PAGE_SIZE
    assert query.query_string() == "q=plant&tasks=Classification&page=2"
    assert query.query_string(page=1) == "q=plant&tasks=Classification"
    assert SearchQuery.parse({"page": ["-3"]}).page == 1
    assert SearchQuery.parse({"page": ["x"]}).page == 1


def test_facets_rank_by_count_and_keep_chosen_values() -> None:
    page = SearchPage(
        total=3,
        limit=PAGE_SIZE,
        offset=0,
        modules=[SearchHit(name="a", title="A", summary="", latest_version="1", deprecated=False)],
        facets={"tasks": {"Regression": 1, "Classification": 3}, "libraries": {}},
    )
    query = SearchQuery(filters={"tasks": ["Regression"], "libraries": ["Keras"]})
    sections = facet_sections(page, query)
    assert [s.key for s in sections] == ["tasks", "libraries"]
    assert [(o.value, o.count, o.chosen) for o in sections[0].options] == [
        ("Classification", 3, False),
        ("Regression", 1, True),
    ]
    assert [(o.value, o.count) for o in sections[1].options] == [("Keras", 0)]
    where = pager(page, query)
    assert (where.pages, where.first, where.last, where.total) == (1, 1, 1, 3)


def test_next_version() -> None:
    assert next_version("1.2.0") == "1.2.1"
    assert next_version("2.0.0rc1") == "2.0.0rc2"
    assert next_version("0+git.abc") == "1"
    assert next_version("v") == "v.1"
    assert next_version(None) == "0.1.0"


def test_citation_and_resources() -> None:
    record = VersionRecord(
        module="plants",
        version="1.0.0",
        metadata={
            "title": "Plants",
            "doi": "10.1/x",
            "links": {"source_code": "https://git/x"},
            "resources": {"inference": {"cpu": 2, "gpu": None}, "training": {"memory_MB": 4}},
        },
        published_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    text = citation(record, "https://mp/ui/plants")
    assert text.startswith("@software{plants_1_0_0,")
    assert "doi = {10.1/x}" in text
    assert "year = {2026}" in text
    assert resource_rows(record.metadata) == [
        ("inference", "CPU cores", "2"),
        ("training", "Memory (MB)", "4"),
    ]
