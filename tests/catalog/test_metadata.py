from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from modelport.catalog import (
    SCHEMA_VERSION,
    ModuleMetadata,
    check_metadata,
    dump_metadata,
    load_metadata,
    parse_metadata,
    read_metadata_file,
    validate_metadata,
)
from modelport.catalog.vocabulary import CATEGORIES, DATA_TYPES, LIBRARIES, TASKS
from modelport.errors import InvalidInput, NotFound
from tests.catalog.samples import FIXTURES, V1_FILES, V2_FILES

LIBRARY_RULE = (
    "'Pytorch' is not one of ['TensorFlow', 'PyTorch', 'Keras', 'Scikit-learn', 'XGBoost', "
    "'LightGBM', 'CatBoost', 'Other']"
)


def errors_of(data: object, filename: str = "ai4-metadata.json") -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as info:
        parse_metadata(json.dumps(data), filename)
    return info.value.errors


# --- valid files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", V2_FILES)
def test_v2_fixtures_load(name: str) -> None:
    metadata = load_metadata(FIXTURES / name)
    assert metadata.metadata_version.startswith("2.")
    assert metadata.links.source_code.startswith("https://github.com/ai4os-hub/")


def test_all_optional_fields_are_read() -> None:
    m = load_metadata(FIXTURES / "image_classifier.ai4-metadata.yml")
    assert m.title == "Plant species classifier"
    assert m.description.startswith("The deep learning revolution")
    assert m.description.count("\n\n") == 2
    assert m.doi == "10.5281/zenodo.1234567"
    assert m.dates is not None
    assert (m.dates.created, m.dates.updated) == ("2019-02-19", "2024-05-06")
    assert m.links.self_url is not None
    assert m.links.self_url.endswith("/ai4-metadata.yml")
    assert m.links.base_model == "https://keras.io/api/applications/xception/"
    assert m.links.model_extra == {"ai4_template": "ai4-template/2.2.0"}
    assert m.libraries == ["TensorFlow", "Keras"]
    assert m.tasks == ["Computer Vision", "Classification", "Transfer Learning"]
    assert m.categories == ["AI4 pre trained", "AI4 trainable", "AI4 inference"]
    assert m.data_type == ["Image"]
    assert m.resources is not None
    assert m.resources.training is not None
    assert m.resources.training.gpu_compute_capability == 7.5
    assert m.resources.training.storage_MB == 50000
    assert m.license == "Apache-2.0"


def test_minimal_file_leaves_optional_fields_unset() -> None:
    m = load_metadata(FIXTURES / "minimal.ai4-metadata.yml")
    assert (m.doi, m.dates, m.data_type, m.resources, m.license) == (None, None, None, None, None)
    assert m.links.documentation is None
    assert (m.libraries, m.tasks, m.categories, m.tags) == ([], [], [], [])


def test_json_v2_with_resources_and_license_expression() -> None:
    m = load_metadata(FIXTURES / "anomaly_detector.ai4-metadata.json")
    assert m.data_type == ["Time Series", "Tabular"]
    assert m.resources is not None
    assert m.resources.inference is not None
    assert m.resources.inference.gpu == 0
    assert m.license == "MIT OR Apache-2.0"
    assert m.links.model_extra == {
        "cicd_url": "https://jenkins.services.ai4os.eu/job/AI4OS-hub/job/mods/job/main/"
    }


def test_unquoted_yaml_dates_are_refused_as_ai4os_refuses_them(minimal: dict[str, object]) -> None:
    # YAML reads 2022-01-01 as a date, and the schema wants a string (ai4-metadata says invalid).
    text = yaml.safe_dump(minimal) + "dates:\n  created: 2022-01-01\n  updated: '2024-12-31'\n"
    with pytest.raises(InvalidInput) as info:
        parse_metadata(text, "ai4-metadata.yml")
    assert list(info.value.errors) == ["dates.created"]
    (message,) = info.value.errors["dates.created"]
    assert message.startswith("datetime.date(2022, 1, 1) is not of type 'string'")
    assert "write it quoted: '2022-01-01'" in message


def test_vocabularies_match_the_ai4os_schema_sizes() -> None:
    # ai4-apps-v2.3.0.json: 8 libraries, 16 tasks, 4 categories, 8 data types
    assert (len(LIBRARIES), len(TASKS), len(CATEGORIES), len(DATA_TYPES)) == (8, 16, 4, 8)
    assert SCHEMA_VERSION == "2.3.0"


# --- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", V2_FILES + V1_FILES)
@pytest.mark.parametrize("target", ["ai4-metadata.yml", "ai4-metadata.json"])
def test_dump_then_parse_is_equal(name: str, target: str) -> None:
    original = load_metadata(FIXTURES / name)
    assert parse_metadata(dump_metadata(original, target), target) == original


@pytest.mark.parametrize("name", V2_FILES)
def test_model_dump_by_alias_validates_back(name: str) -> None:
    original = load_metadata(FIXTURES / name)
    assert ModuleMetadata.model_validate(original.model_dump(by_alias=True)) == original


def test_dump_writes_the_files_own_keys() -> None:
    m = load_metadata(FIXTURES / "image_classifier.ai4-metadata.yml")
    text = dump_metadata(m)
    data = yaml.safe_load(text)
    assert data["data-type"] == ["Image"]
    assert data["links"]["self"].startswith("https://raw.githubusercontent.com/")
    assert data["links"]["ai4_template"] == "ai4-template/2.2.0"
    assert data["dates"] == {"created": "2019-02-19", "updated": "2024-05-06"}
    assert "description: |" in text  # multi-line text stays a readable block
    assert list(data)[:4] == ["metadata_version", "title", "summary", "description"]
    minimal = json.loads(dump_metadata(load_metadata(FIXTURES / V2_FILES[1]), "x.json"))
    assert "doi" not in minimal
    assert "data-type" not in minimal


# --- invalid input: every error at once, dotted paths, the rule ------------------------------


def test_every_error_is_listed_at_once(minimal: dict[str, object]) -> None:
    data = copy.deepcopy(minimal)
    data["links"] = {"documentation": "https://example.org/docs"}
    data["libraries"] = ["PyTorch", "Pytorch"]
    data["data-type"] = ["Pictures"]
    data["resources"] = {"inference": {"cpu": -1}, "training": {"gpu_compute_capability": -6.1}}
    errors = errors_of(data)
    # resources: the hub's schema (2.0.0) has no rules for them; see the warnings below
    assert set(errors) == {"links.source_code", "libraries.1", "data-type.0"}
    assert errors["links.source_code"] == ["is a required property"]
    assert errors["libraries.1"] == [LIBRARY_RULE]
    assert errors["data-type.0"][0].startswith("'Pictures' is not one of ['Image', 'Text'")


def test_every_required_field_is_named() -> None:
    errors = errors_of({"metadata_version": "2.3.0"})
    required = {"title", "summary", "description", "links", "libraries", "tasks", "categories"}
    assert set(errors) == required | {"tags"}
    assert all(messages == ["is a required property"] for messages in errors.values())


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        ({"metadata_version": "2.3"}, "metadata_version", "does not match"),
        ({"title": 42}, "title", "42 is not of type 'string'"),
        ({"description": ["a", "b"]}, "description", "is not of type 'string'"),
        ({"tasks": ["Segmentation"]}, "tasks.0", "'Segmentation' is not one of ['Computer Vision'"),
        ({"categories": ["AI4 pretrained"]}, "categories.0", "'AI4 pre trained'"),
        ({"tags": ["a", "b", "a"]}, "tags", "has non-unique elements"),
        ({"tags": "a, b"}, "tags", "'a, b' is not of type 'array'"),
        ({"dates": {"created": "2024-01-01"}}, "dates.updated", "is a required property"),
        ({"sources": {"code": "https://x.org"}}, "sources", "DEEP v1 key"),
        ({"keywords": ["a"]}, "keywords", "DEEP v1 key"),
    ],
)
def test_each_ai4os_rule_names_its_field(
    minimal: dict[str, object], change: dict[str, object], path: str, rule: str
) -> None:
    errors = errors_of({**minimal, **change})
    assert list(errors) == [path]
    assert rule in errors[path][0]


@pytest.mark.parametrize(
    ("resources", "path", "rule"),
    [
        (
            {"training": {"memory_MB": "lots"}},
            "training.memory_MB",
            "'lots' is not of type 'integer'",
        ),
        ({"training": {"cpu": 1.5}}, "training.cpu", "1.5 is not of type 'integer'"),
        ({"training": {"cpu": "4"}}, "training.cpu", "'4' is not of type 'integer'"),
        ({"inference": {"gpu": True}}, "inference.gpu", "True is not of type 'integer'"),
        (
            {"inference": {"gpu_compute_capability": "7.5"}},
            "inference.gpu_compute_capability",
            "'7.5' is not of type 'number'",
        ),
        ({"training": {"storage_MB": -5}}, "training.storage_MB", "-5 is less than the minimum"),
    ],
)
def test_resources_the_platform_refuses_are_left_out_with_a_warning(
    minimal: dict[str, object], resources: dict[str, object], path: str, rule: str
) -> None:
    # The hub's CI judges with schema 2.0.0 (no resources rules); the platform's latest refuses.
    report = check_metadata({**minimal, "resources": resources})
    assert report.valid
    assert report.metadata is not None
    assert report.metadata.resources is None
    assert list(report.warnings) == [f"resources.{path}"]
    assert report.warnings[f"resources.{path}"][0].startswith(rule)


@pytest.mark.parametrize(
    ("change", "path", "warning"),
    [
        # The schema only annotates formats and admits any N.N.N: valid, with modelport's warning.
        ({"metadata_version": "1.0.0"}, "metadata_version", "judged by the latest AI4OS schema"),
        ({"doi": "zenodo 1234"}, "doi", "is not a DOI"),
        (
            {"dates": {"created": "2024-13-01", "updated": "2024-01-01"}},
            "dates.created",
            "'2024-13-01' is not a date written YYYY-MM-DD",
        ),
        ({"links": {"source_code": "github.com/x/y"}}, "links.source_code", "absolute URI"),
        ({"links": {"source_code": "https:///x"}}, "links.source_code", "absolute URI"),
        (
            {"links": {"source_code": "https://x.org", "docker_image": "not an image"}},
            "links.docker_image",
            "neither an image reference nor a URI",
        ),
        ({"license": "Foo-1.0"}, "license", "'Foo-1.0' is not an SPDX license identifier"),
        ({"license": "Apache 2.0"}, "license", "recorded as the SPDX identifier 'Apache-2.0'"),
    ],
)
def test_modelport_rules_are_warnings_on_what_ai4os_accepts(
    minimal: dict[str, object], change: dict[str, object], path: str, warning: str
) -> None:
    report = check_metadata({**minimal, **change})
    assert report.valid, report.errors
    assert list(report.warnings) == [path]
    assert warning in report.warnings[path][0]


@pytest.mark.parametrize(
    "image",
    [
        "ai4oshub/ai4os-demo-app",
        "vllm/vllm-openai:latest",
        "registry.services.ai4os.eu/ai4os/ai4os-llm:1.2",
        "ghcr.io/org/model@sha256:" + "0" * 64,
        "https://hub.docker.com/r/deephdc/deep-oc-mods",
    ],
)
def test_docker_image_is_an_image_reference_or_a_uri(
    minimal: dict[str, object], image: str
) -> None:
    links = {"source_code": "https://github.com/x/y", "docker_image": image}
    report = check_metadata({**minimal, "links": links})
    assert (report.valid, report.warnings) == (True, {})
    assert report.metadata is not None
    assert report.metadata.links.docker_image == image


def test_identifiers_are_trimmed_with_a_warning_quoting_what_was_written(
    minimal: dict[str, object],
) -> None:
    links = {"source_code": " https://github.com/x/y ", "docker_image": " deephdc/x"}
    report = check_metadata({**minimal, "links": links, "license": "MIT "})
    assert report.metadata is not None
    assert report.metadata.links.source_code == "https://github.com/x/y"
    assert report.metadata.links.docker_image == "deephdc/x"
    assert report.metadata.license == "MIT"
    assert report.warnings["links.docker_image"] == [
        "' deephdc/x' has surrounding whitespace; recorded as 'deephdc/x'"
    ]
    assert set(report.warnings) == {"links.source_code", "links.docker_image", "license"}


def test_unknown_keys_are_kept_as_the_schema_allows(minimal: dict[str, object]) -> None:
    m = validate_metadata({**minimal, "x-review": {"by": "qa"}})
    assert m.model_extra == {"x-review": {"by": "qa"}}
    assert yaml.safe_load(dump_metadata(m))["x-review"] == {"by": "qa"}


def test_license_is_normalised(minimal: dict[str, object]) -> None:
    report = check_metadata({**minimal, "license": "apache-2.0 or mit"})
    assert report.metadata is not None
    assert (report.metadata.license, report.warnings) == ("Apache-2.0 OR MIT", {})


# --- unparsable files name the file and the position -------------------------------------------


def test_broken_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "ai4-metadata.yml"
    path.write_text("metadata_version: 2.3.0\ntitle: x\n  summary: [y\n")
    with pytest.raises(InvalidInput) as info:
        load_metadata(path)
    assert info.value.errors == {
        str(path): ["invalid YAML at line 3, column 10: mapping values are not allowed here"]
    }


def test_unterminated_yaml_string_says_where_it_started() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_metadata('title: x\nlinks:\n  source_code: "https://x\n', "ai4-metadata.yaml")
    (message,) = info.value.errors["ai4-metadata.yaml"]
    assert message.startswith("invalid YAML at line 4, column 1: found unexpected end of stream")
    assert "started at line 3, column 16" in message


def test_broken_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text('{\n  "title": "x",\n  "summary": "y"\n  "keywords": [\n}\n')
    with pytest.raises(InvalidInput) as info:
        load_metadata(path)
    assert info.value.errors == {
        str(path): ["invalid JSON at line 4, column 3: Expecting ',' delimiter"]
    }


def test_json_the_ai4os_loader_reads_as_yaml_is_accepted_with_its_real_format(
    tmp_path: Path,
) -> None:
    # DEEP v1 files with trailing commas, or YAML in metadata.json: AI4OS reads JSON, then YAML.
    v1 = json.loads((FIXTURES / "plant_classifier_v1.json").read_text())
    text = json.dumps(v1, indent=2).replace('"code": ', '"code":  ').rstrip("\n}") + ",\n}\n"
    path = tmp_path / "metadata.json"
    path.write_text(text)
    read = read_metadata_file(path)
    assert (read.format, read.report.valid) == ("yaml", True)
    (note,) = read.report.warnings[str(path)]
    assert note.startswith("the file is named .json but is not JSON (invalid JSON at line")
    assert note.endswith("it was read as YAML, as AI4OS reads it")
    path.write_text(yaml.safe_dump(v1))
    assert read_metadata_file(path).report.metadata == load_metadata(
        FIXTURES / "plant_classifier_v1.json"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping of metadata fields, found a list"),
        ("just text\n", "expected a mapping of metadata fields, found a str"),
    ],
)
def test_a_file_that_is_not_a_mapping(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_metadata(text, "ai4-metadata.yml")
    assert info.value.errors["ai4-metadata.yml"][0].startswith(message)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "ai4-metadata.yml"
    path.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(InvalidInput) as info:
        load_metadata(path)
    assert info.value.errors == {str(path): ["not UTF-8 text (byte 10)"]}


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_metadata(tmp_path / "ai4-metadata.yml")
    with pytest.raises(NotFound, match="no metadata file"):
        load_metadata(tmp_path)


def test_a_module_directory_prefers_ai4_metadata_over_v1(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text((FIXTURES / "plant_classifier_v1.json").read_text())
    assert load_metadata(tmp_path).title == "Plant classification"
    v2 = (FIXTURES / "minimal.ai4-metadata.yml").read_text()
    (tmp_path / "ai4-metadata.yml").write_text(v2)
    assert load_metadata(tmp_path).title == "Dummy module"
