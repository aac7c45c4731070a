"""Seeding the catalog: iris and the installed pilot modules, with their load specs and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.catalog.service import CatalogService
from modelport.catalog.setup import (
    PILOTS,
    build_catalog_service,
    installed_pilots,
    pilot_metadata_file,
    seed_examples,
)
from modelport.contract import discovery
from modelport.settings import Settings

EXPECTED = {
    "iris": ("modelport.examples.iris:IrisClassifier", "modelport"),
    "image-classifier": ("image_classifier.model:ImageClassifier", "image-classifier"),
    "stream-anomaly": ("stream_anomaly.model:StreamAnomalyDetector", "stream-anomaly"),
    "sim-postprocess": ("sim_postprocess.model:SimulationPostprocessor", "sim-postprocess"),
    "tiny-detector": ("tiny_detector.model:TinyDetector", "tiny-detector"),
}


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    """An empty catalog on SQLite."""
    return build_catalog_service(Settings(data_dir=tmp_path))


def test_seeding_publishes_iris_and_every_installed_pilot(service: CatalogService) -> None:
    published = seed_examples(service)
    assert published[0] == "iris 1.0.0"
    assert sorted(published) == sorted(f"{name} 1.0.0" for name in EXPECTED)
    for name, (load_spec, package) in EXPECTED.items():
        record = service.registry.version(name)
        assert (record.load_spec, record.package, record.published_by) == (
            load_spec,
            package,
            "modelport",
        )
        assert record.metadata["license"] == "Apache-2.0"
        assert discovery.load(load_spec).name == name  # what the gateway will load
    assert service.search("transfer learning").modules[0].name == "image-classifier"
    assert seed_examples(service) == []  # only into an empty catalog


def test_seeding_without_pilots(service: CatalogService) -> None:
    assert seed_examples(service, pilots=False) == ["iris 1.0.0"]
    assert service.registry.names() == ["iris"]


def test_every_pilot_is_installed_with_its_metadata() -> None:
    found = {load_spec for _, load_spec, _, _ in installed_pilots()}
    assert found == {load_spec for load_spec, _ in PILOTS}


def test_metadata_is_found_in_the_package_or_at_the_project_root(tmp_path: Path) -> None:
    package = tmp_path / "project" / "src" / "pkg"
    package.mkdir(parents=True)
    assert pilot_metadata_file(package) is None
    (tmp_path / "project" / "ai4-metadata.yml").write_text("x")
    assert pilot_metadata_file(package) == tmp_path / "project" / "ai4-metadata.yml"
    (package / "ai4-metadata.yml").write_text("x")  # a wheel carries it inside the package
    assert pilot_metadata_file(package) == package / "ai4-metadata.yml"
