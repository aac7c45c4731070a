from __future__ import annotations

import json
from datetime import date

import pytest

from modelport.catalog import SCHEMA_VERSION, is_v1_metadata, load_metadata, parse_metadata
from modelport.errors import InvalidInput
from tests.catalog.samples import FIXTURES


def v1_errors(data: dict[str, object]) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as info:
        parse_metadata(json.dumps(data), "metadata.json")
    return info.value.errors


@pytest.fixture
def plant_v1() -> dict[str, object]:
    data: dict[str, object] = json.loads((FIXTURES / "plant_classifier_v1.json").read_text())
    return data


def test_plant_classifier_maps_every_field() -> None:
    m = load_metadata(FIXTURES / "plant_classifier_v1.json")
    assert m.metadata_version == SCHEMA_VERSION
    assert m.title == "Plant classification"
    assert m.summary.startswith("Identify a plant from a photo")
    # lines joined with newlines; a trailing literal "\n" (a DEEP paragraph end) adds a blank line
    assert m.description.startswith(
        "The deep learning revolution has brought significant advances in a number of fields [1],"
        " primarily linked to\nimage and speech recognition.\n\nThis Docker container"
    )
    assert "\\n" not in m.description
    assert m.description.endswith("arXiv (2017).")
    assert m.dates is not None
    assert m.dates.created == m.dates.updated == date(2019, 1, 1)
    assert m.license == "Apache-2.0"
    assert m.tags == [
        "tensorflow",
        "docker",
        "deep learning",
        "trainable",
        "inference",
        "pre-trained",
        "image classification",
        "api-v2",
    ]
    links = m.links
    assert links.source_code == "https://github.com/deephdc/plants-classification-tf"
    assert links.docker_image == "https://hub.docker.com/r/deephdc/deep-oc-plants-classification-tf"
    assert (
        links.weights == "https://cephrgw01.ifca.es:8080/swift/v1/plants-tf/default_plants.tar.xz"
    )
    assert links.citation == "https://doi.org/10.1109/ACCESS.2019.2907847"
    assert links.dataset == "http://www.plantnet.org"
    assert links.model_extra == {}
    # inferred from keywords (and pre_trained_weights)
    assert m.libraries == ["TensorFlow"]
    assert m.categories == ["AI4 trainable", "AI4 inference", "AI4 pre trained"]
    assert m.tasks == ["Computer Vision", "Classification"]
    assert m.data_type == ["Image"]
    # lost: tosca, continuous_integration, sources.dockerfile_repo
    assert m.model_extra == {}
    assert "DEEP-OC-plants" not in m.model_dump_json()


def test_mods_library_prefix_duplicates_and_license_alias() -> None:
    m = load_metadata(FIXTURES / "mods_v1.json")
    assert m.libraries == ["Keras", "TensorFlow"]
    assert m.tasks == ["Time Series", "Anomaly Detection"]
    assert m.data_type == ["Time Series"]
    assert m.categories == ["AI4 trainable"]
    keywords = ["services", "library/keras", "library/tensorflow", "time series"]
    assert m.tags == [*keywords, "anomaly detection", "trainable"]
    assert m.license == "GPL-3.0-only"
    assert m.description.split("\n") == [
        "This use case analyzes online data streams in order to generate alerts with time-bounded"
        " constrains and in real-time.",
        "",
        "Current modelling approach using DL techniques:",
        "LSTM (vanilla, stacked, bidirectional, seq2seq encoder/decoder), GRU, CNN, and MLP",
    ]


def test_nothing_to_infer_gives_empty_facets_and_no_license() -> None:
    data = {
        "title": "t",
        "summary": "s",
        "description": ["d"],
        "keywords": ["docker"],
        "sources": {"code": "https://github.com/deephdc/x", "docker_registry_repo": "deephdc/x"},
    }
    m = parse_metadata(json.dumps(data), "metadata.json")
    assert (m.libraries, m.tasks, m.categories, m.data_type) == ([], [], [], None)
    assert (m.license, m.dates) == (None, None)


@pytest.mark.parametrize(
    ("sources", "source_code", "docker_image"),
    [
        (
            {"dockerfile_repo": "https://github.com/deephdc/DEEP-OC-x"},
            "https://github.com/deephdc/DEEP-OC-x",
            None,
        ),
        (
            {"code": "https://github.com/x/y", "docker_registry_repo": "registry.example.org/x/y"},
            "https://github.com/x/y",
            "https://registry.example.org/x/y",
        ),
        (
            {"code": "https://github.com/x/y", "docker_registry_repo": "https://ghcr.io/x/y"},
            "https://github.com/x/y",
            "https://ghcr.io/x/y",
        ),
    ],
)
def test_source_and_image_links(
    plant_v1: dict[str, object],
    sources: dict[str, str],
    source_code: str,
    docker_image: str | None,
) -> None:
    m = parse_metadata(json.dumps({**plant_v1, "sources": sources}), "metadata.json")
    assert (m.links.source_code, m.links.docker_image) == (source_code, docker_image)


def test_doi_and_zenodo_doi_are_carried(plant_v1: dict[str, object]) -> None:
    sources = {"code": "https://github.com/x/y", "zenodo_doi": "https://doi.org/10.5281/zenodo.1"}
    data = {**plant_v1, "doi": "10.5281/zenodo.1", "sources": sources}
    m = parse_metadata(json.dumps(data), "metadata.json")
    assert (m.doi, m.links.zenodo_doi) == ("10.5281/zenodo.1", "https://doi.org/10.5281/zenodo.1")


def test_errors_name_the_v1_fields_all_at_once(plant_v1: dict[str, object]) -> None:
    data = {
        **plant_v1,
        "license": "All rights reserved",
        "date_creation": "19/02/2019",
        "cite_url": "see the paper",
        "keywords": ["ok", 3],
        "sources": {"docker_registry_repo": "deephdc/x"},
    }
    del data["title"]
    errors = v1_errors(data)
    assert set(errors) == {
        "title",
        "license",
        "date_creation",
        "cite_url",
        "keywords.1",
        "sources.code",
    }
    assert errors["title"] == ["Field required"]
    assert errors["sources.code"] == ["Field required"]
    assert len(errors["date_creation"]) == 1  # reported once, not per v2 date
    assert "SPDX" in errors["license"][0]


def test_sources_must_be_an_object(plant_v1: dict[str, object]) -> None:
    errors = v1_errors({**plant_v1, "sources": "https://github.com/x/y"})
    assert errors == {
        "sources": ["Input should be a valid dictionary"],
        "sources.code": ["Field required"],
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"title": "t", "keywords": []}, True),
        ({"title": "t", "description": ["a"]}, True),
        ({"title": "t", "tosca": []}, True),
        ({"metadata_version": "2.0.0", "keywords": []}, False),
        ({"title": "t", "description": "d"}, False),
    ],
)
def test_v1_detection(data: dict[str, object], expected: bool) -> None:
    assert is_v1_metadata(data) is expected
