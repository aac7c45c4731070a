"""``modelport new``'s template, rendered."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path

import pytest
import yaml

from modelport.catalog.files import load_metadata
from modelport.errors import Conflict, InvalidInput
from modelport.scaffold import ProjectOptions, render_project, template_root

EXPECTED = [
    ".dockerignore",
    ".github/workflows/ci.yml",
    ".gitignore",
    "Dockerfile",
    "LICENSE",
    "README.md",
    "ai4-metadata.yml",
    "pyproject.toml",
    "src/plant_classifier/__init__.py",
    "src/plant_classifier/model.py",
    "tests/test_model.py",
]


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    dest = tmp_path / "plant-classifier"
    options = ProjectOptions(
        "plant-classifier",
        summary="Identify a plant.",
        author="Ada Lovelace",
        repo_url="https://git.example.org/ada/plants",
        today=date(2024, 5, 6),
    )
    render_project(options, dest)
    return dest


def test_the_project_has_every_file(rendered: Path) -> None:
    files = sorted(str(p.relative_to(rendered)) for p in rendered.rglob("*") if p.is_file())
    assert files == EXPECTED


def test_nothing_is_left_unrendered(rendered: Path) -> None:
    for path in rendered.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{" not in text.replace("${{", ""), path
            assert "__package__" not in str(path)


def test_the_metadata_validates_and_names_the_project(rendered: Path) -> None:
    metadata = load_metadata(rendered)
    assert metadata.title == "Plant classifier"
    assert metadata.summary == "Identify a plant."
    assert metadata.license == "Apache-2.0"
    assert metadata.links.source_code == "https://git.example.org/ada/plants"
    assert metadata.dates is not None
    assert metadata.dates.created == "2024-05-06"


def test_the_pyproject_registers_the_model(rendered: Path) -> None:
    project = tomllib.loads((rendered / "pyproject.toml").read_text())["project"]
    assert project["name"] == "plant-classifier"
    assert project["entry-points"]["modelport.models"] == {
        "plant-classifier": "plant_classifier.model:PlantClassifier"
    }
    assert project["dependencies"] == ["modelport"]
    assert "modelport[check]" in project["optional-dependencies"]["test"]
    assert project["authors"] == [{"name": "Ada Lovelace"}]


def test_the_model_source_compiles_and_declares_its_class(rendered: Path) -> None:
    source = (rendered / "src/plant_classifier/model.py").read_text()
    compile(source, "model.py", "exec")
    assert "class PlantClassifier(Model):" in source
    assert 'name = "plant-classifier"' in source
    assert "def train(" in source


def test_the_ci_workflow_runs_the_gate(rendered: Path) -> None:
    workflow = yaml.safe_load((rendered / ".github/workflows/ci.yml").read_text())
    steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["check"]["steps"])
    for tool in ("ruff check", "bandit", "pytest", "modelport check"):
        assert tool in steps


def test_the_dockerfile_serves_the_model(rendered: Path) -> None:
    text = (rendered / "Dockerfile").read_text()
    assert "COPY . /app/module/" in text
    assert '"modelport", "serve", "plant-classifier"' in text
    assert "--allow-insecure-bind" in text


def test_the_license_is_apache_or_a_notice(rendered: Path, tmp_path: Path) -> None:
    assert "Apache License" in (rendered / "LICENSE").read_text()
    render_project(ProjectOptions("other", license="mit"), tmp_path / "other")
    assert "SPDX-License-Identifier: MIT" in (tmp_path / "other" / "LICENSE").read_text()
    assert "license: MIT" in (tmp_path / "other" / "ai4-metadata.yml").read_text()


def test_the_generated_code_is_lint_clean(rendered: Path) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    pytest.importorskip("ruff")
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [*ruff, *args], cwd=rendered, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "name", ["Plant", "plant_classifier", "1plant", "plant-", "import", "tests"]
)
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_project(ProjectOptions(name), tmp_path / "x")
    assert "name" in caught.value.errors


def test_bad_license_and_requirement_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_project(ProjectOptions("x", license="Apache 2", modelport_requirement="?"), tmp_path)
    assert set(caught.value.errors) == {"license", "modelport"}


def test_a_non_empty_destination_is_refused(rendered: Path) -> None:
    with pytest.raises(Conflict):
        render_project(ProjectOptions("plant-classifier"), rendered)


def test_a_modelport_requirement_with_a_version(tmp_path: Path) -> None:
    render_project(ProjectOptions("x", modelport_requirement="modelport>=0.1"), tmp_path / "x")
    project = tomllib.loads((tmp_path / "x" / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["modelport>=0.1"]
    assert project["optional-dependencies"]["test"][1] == "modelport[check]>=0.1"


def test_the_template_ships_in_the_package() -> None:
    names = {p.name for p in template_root().iterdir()}
    assert {"pyproject.toml.jinja", "ai4-metadata.yml.jinja", "dot-github", "src"} <= names
