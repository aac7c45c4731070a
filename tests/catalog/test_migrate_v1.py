from __future__ import annotations

import json

import pytest

from modelport.catalog import (
    SCHEMA_VERSION,
    check_metadata,
    is_v1_metadata,
    load_metadata,
    parse_metadata,
)
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
    assert m.dates.created == m.dates.updated == "2019-01-01"
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
    assert links.docker_image == "deephdc/deep-oc-plants-classification-tf"  # as written
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


def test_mods_library_prefix_and_license_alias() -> None:
    data = json.loads((FIXTURES / "mods_v1.json").read_text())
    data["keywords"] = list(dict.fromkeys(data["keywords"]))
    report = check_metadata(data)
    m = report.metadata
    assert m is not None
    assert m.libraries == ["Keras", "TensorFlow"]
    assert m.tasks == ["Time Series", "Anomaly Detection"]
    assert m.data_type == ["Time Series"]
    assert m.categories == ["AI4 trainable"]
    keywords = ["services", "library/keras", "library/tensorflow", "time series"]
    assert m.tags == [*keywords, "anomaly detection", "trainable"]
    assert m.license == "GPL-3.0-only"
    assert report.warnings == {}  # v1 licenses are names: mapping a known one is no news
    assert m.description.split("\n") == [
        "This use case analyzes online data streams in order to generate alerts with time-bounded"
        " constrains and in real-time.",
        "",
        "Current modelling approach using DL techniques:",
        "LSTM (vanilla, stacked, bidirectional, seq2seq encoder/decoder), GRU, CNN, and MLP",
    ]


def test_a_repeated_keyword_is_refused_as_the_v1_schema_refuses_it() -> None:
    with pytest.raises(InvalidInput) as info:
        load_metadata(FIXTURES / "mods_v1.json")  # "services" twice
    assert info.value.errors == {"keywords": [_repeated_keywords()]}


def _repeated_keywords() -> str:
    keywords = json.loads((FIXTURES / "mods_v1.json").read_text())["keywords"]
    return f"{keywords!r} has non-unique elements"


def test_nothing_to_infer_gives_empty_facets(plant_v1: dict[str, object]) -> None:
    data = {**plant_v1, "keywords": ["docker"], "sources": _sources("https://github.com/x/y")}
    m = parse_metadata(json.dumps(data), "metadata.json")
    assert (m.libraries, m.tasks, m.categories, m.data_type) == ([], [], [], None)


def _sources(code: str, image: str = "deephdc/x", **more: str) -> dict[str, str]:
    dockerfile = "https://github.com/deephdc/DEEP-OC-x"
    return {"dockerfile_repo": dockerfile, "docker_registry_repo": image, "code": code, **more}


@pytest.mark.parametrize(
    ("image", "warning"),
    [
        ("deephdc/deep-oc-x", None),
        ("registry.example.org/x/y:1.0", None),
        ("https://ghcr.io/x/y", None),
        (" deephdc/x", "' deephdc/x' has surrounding whitespace; recorded as 'deephdc/x'"),
    ],
)
def test_the_image_is_kept_as_written(
    plant_v1: dict[str, object], image: str, warning: str | None
) -> None:
    report = check_metadata({**plant_v1, "sources": _sources("https://github.com/x/y", image)})
    assert report.metadata is not None
    assert report.metadata.links.docker_image == image.strip()
    expected = {"sources.docker_registry_repo": [warning]} if warning else {}
    assert report.warnings == expected


def test_a_free_text_license_is_kept_as_written_with_a_warning(
    plant_v1: dict[str, object],
) -> None:
    report = check_metadata({**plant_v1, "license": "No license file"})
    assert report.metadata is not None
    assert report.metadata.license == "No license file"
    (warning,) = report.warnings["license"]
    assert warning.startswith("'No license file' is not an SPDX license identifier")


def test_doi_and_zenodo_doi_are_carried(plant_v1: dict[str, object]) -> None:
    sources = _sources("https://github.com/x/y", zenodo_doi="https://doi.org/10.5281/zenodo.1")
    data = {**plant_v1, "doi": "10.5281/zenodo.1", "sources": sources}
    m = parse_metadata(json.dumps(data), "metadata.json")
    assert (m.doi, m.links.zenodo_doi) == ("10.5281/zenodo.1", "https://doi.org/10.5281/zenodo.1")


def test_ai4os_errors_name_the_v1_fields_all_at_once(plant_v1: dict[str, object]) -> None:
    data = {**plant_v1, "keywords": ["ok", 3], "sources": {"docker_registry_repo": "deephdc/x"}}
    del data["title"]
    del data["license"]
    errors = v1_errors(data)
    assert errors == {
        "title": ["is a required property"],
        "license": ["is a required property"],
        "keywords.1": ["3 is not of type 'string'"],
        "sources.code": ["is a required property"],
        "sources.dockerfile_repo": ["is a required property"],
    }


def test_modelport_warnings_name_the_v1_fields(plant_v1: dict[str, object]) -> None:
    data = {**plant_v1, "date_creation": "19/02/2019", "cite_url": "see the paper"}
    report = check_metadata(data)
    assert report.valid
    assert set(report.warnings) == {"date_creation", "cite_url"}
    assert len(report.warnings["date_creation"]) == 1  # reported once, not per v2 date


def test_sources_must_be_an_object(plant_v1: dict[str, object]) -> None:
    errors = v1_errors({**plant_v1, "sources": "https://github.com/x/y"})
    assert errors == {"sources": ["'https://github.com/x/y' is not of type 'object'"]}


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
