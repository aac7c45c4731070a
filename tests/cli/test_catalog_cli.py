"""``modelport catalog ...`` on a local catalog in a temporary data directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from modelport.catalog.files import load_metadata
from modelport.cli.catalog import app
from modelport.settings import Settings
from tests.catalog.conftest import git_identity
from tests.catalog.gitrepos import served_catalog
from tests.catalog.samples import FIXTURES, V1_FILES, V2_FILES
from tests.conftest import subprocess_env

TYPED_MODULE = FIXTURES / "sources" / "typed_module"
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
__all__ = ["git_identity"]  # a fixture of tests/catalog, used here too


def catalog_registered() -> bool:
    """Whether ``modelport --help`` lists the catalog group (it is registered in cli/__init__)."""
    from modelport.cli import app as root

    return "catalog" in CliRunner().invoke(root, ["--help"], env={"COLUMNS": "200"}).output


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped, for matching
    return data


def cli(*args: str | Path) -> Result:
    """Run ``modelport catalog ARGS`` in-process."""
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """A copy of the typed module (plant-classifier 1.2.0) with two artifact files."""
    path = tmp_path / "plant"
    shutil.copytree(TYPED_MODULE, path)
    (path / "weights").mkdir()
    (path / "weights" / "model.bin").write_bytes(os.urandom(3000))
    (path / "labels.txt").write_text("rose\ntulip\n")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*V2_FILES, *V1_FILES])
def test_validate_accepts_the_fixture_files(name: str) -> None:
    schema = "1.0.0" if name in V1_FILES else "2.0.0"
    result = cli("validate", FIXTURES / name)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{FIXTURES / name}: valid (AI4OS schema {schema})"]


def test_validate_a_module_directory_and_the_current_one(monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("validate", TYPED_MODULE)
    assert result.exit_code == 0, result.output
    assert str(TYPED_MODULE / "ai4-metadata.yml") in result.stdout
    monkeypatch.chdir(TYPED_MODULE)
    assert cli("validate").exit_code == 0
    report = json.loads(cli("validate", "--json").stdout)
    assert report == {
        "path": "ai4-metadata.yml",
        "valid": True,
        "schema": "2.0.0",
        "format": "yaml",
        "errors": {},
        "warnings": {},
        "strict": False,
        "passed": True,
    }


def test_validate_lists_every_invalid_field(tmp_path: Path) -> None:
    meta = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    meta["metadata_version"] = "1.0"
    del meta["title"]
    del meta["links"]["source_code"]
    meta["libraries"] = ["NoSuchLibrary"]
    meta["keywords"] = ["v1 key"]
    (tmp_path / "ai4-metadata.yml").write_text(yaml.safe_dump(meta))

    result = cli("validate", tmp_path)

    assert result.exit_code == 1
    fields = ("metadata_version", "title", "links.source_code", "libraries.0", "keywords")
    for field in fields:
        assert f"  {field}: " in result.stdout, result.stdout
    assert "invalid metadata (AI4OS schema 2.0.0), 5 fields" in result.stdout
    report = json.loads(cli("validate", tmp_path, "--json").stdout)
    assert report["valid"] is False
    assert set(report["errors"]) == set(fields)


def test_validate_reports_modelport_warnings_apart_and_strict_fails_on_them(
    tmp_path: Path,
) -> None:
    meta = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    meta["metadata_version"] = "1.0.1"  # real v2 files say so; the hub's schema accepts it
    meta["links"]["docker_image"] = "ai4oshub/ai4os-demo-app"  # an image reference: no warning
    meta["license"] = "No license file"
    (tmp_path / "ai4-metadata.yml").write_text(yaml.safe_dump(meta))

    result = cli("validate", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("ai4-metadata.yml: valid (AI4OS schema 2.0.0)")
    assert lines[1] == "modelport warnings: 2"
    assert lines[2].startswith("  metadata_version: '1.0.1' is not a published v2 schema version")
    assert lines[3].startswith("  license: 'No license file' is not an SPDX license identifier")

    strict = cli("validate", tmp_path, "--strict")
    assert strict.exit_code == 1
    assert "modelport errors (--strict): 2" in strict.stdout
    report = json.loads(cli("validate", tmp_path, "--strict", "--json").stdout)
    assert (report["valid"], report["passed"]) == (True, False)
    assert set(report["warnings"]) == {"metadata_version", "license"}


def test_validate_names_the_position_of_a_syntax_error(tmp_path: Path) -> None:
    file = tmp_path / "ai4-metadata.yml"
    file.write_text("title: [unclosed\nsummary: x\n")
    result = cli("validate", file)
    assert result.exit_code == 1
    assert "invalid YAML at line" in result.stdout


def test_validate_without_a_metadata_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = cli("validate", tmp_path / "ai4-metadata.yml")
    assert missing.exit_code == 2
    assert "metadata file not found" in missing.stderr
    empty = cli("validate", tmp_path)
    assert empty.exit_code == 2
    assert "no metadata file" in empty.stderr


def test_validate_documents_its_exit_codes() -> None:
    help_text = CliRunner().invoke(app, ["validate", "--help"], env={"COLUMNS": "200"}).output
    for line in ("0 - the metadata is valid", "1 - the metadata is invalid", "2 - usage error"):
        assert line in help_text


# -- publish, search, show, versions ----------------------------------------------------------


def test_publish_then_search_show_versions(data_dir: Path, module: Path) -> None:
    weights = module / "weights" / "model.bin"  # from here; labels.txt: in the module
    published = cli(
        "publish",
        module,
        "--artifact",
        weights,
        "--artifact",
        "labels.txt",
        "--published-by",
        "alice",
    )
    assert published.exit_code == 0, published.output
    assert published.stdout.strip() == "published plant-classifier 1.2.0 (2 artifacts)"

    found = cli("search", "plant")
    assert found.exit_code == 0, found.output
    assert "plant-classifier" in found.stdout
    assert "1.2.0" in found.stdout
    assert "libraries: Keras (1), TensorFlow (1)" in found.stdout
    page = json.loads(
        cli("search", "--library", "TensorFlow", "--data-type", "Image", "--json").stdout
    )
    assert page["total"] == 1
    assert page["modules"][0]["name"] == "plant-classifier"
    assert json.loads(cli("search", "--library", "PyTorch", "--json").stdout)["total"] == 0
    assert "No modules match." in cli("search", "nothing-like-this").stdout
    assert cli("search", "--sort", "sideways").exit_code == 2

    shown = cli("show", "plant-classifier")
    assert shown.exit_code == 0, shown.output
    for text in ("Plant species classifier", "latest → 1.2.0", "weights/model.bin", "labels.txt"):
        assert text in shown.stdout
    doc = json.loads(cli("show", "plant-classifier", "--json").stdout)
    assert doc["module"]["aliases"] == {"latest": "1.2.0"}
    assert doc["version"]["load_spec"] == "plant_classifier.model:PlantClassifier"
    assert {a["name"] for a in doc["version"]["artifacts"]} == {"weights/model.bin", "labels.txt"}

    listed = cli("versions", "plant-classifier")
    assert listed.exit_code == 0, listed.output
    assert "1.2.0" in listed.stdout
    assert "alice" in listed.stdout


def test_publishing_a_version_twice_is_refused(data_dir: Path, module: Path) -> None:
    assert cli("publish", module).exit_code == 0
    again = cli("publish", module)
    assert again.exit_code == 2
    assert "plant-classifier 1.2.0 is already published" in again.stderr
    assert "--version" in again.stderr

    newer = cli("publish", module, "--version", "1.3.0")
    assert newer.exit_code == 0, newer.output
    versions = json.loads(cli("versions", "plant-classifier", "--json").stdout)
    assert [v["version"] for v in versions] == ["1.3.0", "1.2.0"]


def test_publish_reports_a_missing_source_and_artifact(data_dir: Path, module: Path) -> None:
    missing = cli("publish", module, "--artifact", "no-such-file.bin")
    assert missing.exit_code == 2
    assert "not a file: no-such-file.bin" in missing.stderr
    assert cli("publish", module.parent / "nowhere").exit_code == 2


def test_unknown_modules_are_usage_errors(data_dir: Path) -> None:
    for args in (("show", "nope"), ("versions", "nope"), ("pull", "nope")):
        result = cli(*args)
        assert result.exit_code == 2
        assert "module 'nope' not found" in result.stderr


# -- alias, deprecate -------------------------------------------------------------------------


def test_alias_and_deprecate(data_dir: Path, module: Path) -> None:
    cli("publish", module)
    cli("publish", module, "--version", "2.0.0")

    aliased = cli("alias", "plant-classifier", "stable", "1.2.0")
    assert aliased.exit_code == 0, aliased.output
    assert aliased.stdout.strip() == "plant-classifier: stable → 1.2.0"
    stable = json.loads(cli("show", "plant-classifier", "--version", "stable", "--json").stdout)
    assert stable["version"]["version"] == "1.2.0"
    assert stable["module"]["aliases"] == {"latest": "2.0.0", "stable": "1.2.0"}
    assert cli("alias", "plant-classifier", "stable", "9.9.9").exit_code == 2
    assert cli("alias", "plant-classifier", "latest", "1.2.0").exit_code == 2

    deprecated = cli("deprecate", "plant-classifier", "--message", "use plant-classifier-v2")
    assert deprecated.exit_code == 0, deprecated.output
    assert "deprecated (use plant-classifier-v2)" in deprecated.stdout
    assert json.loads(cli("search", "--json").stdout)["total"] == 0
    assert json.loads(cli("search", "--deprecated", "--json").stdout)["total"] == 1
    assert "deprecated: use plant-classifier-v2" in cli("show", "plant-classifier").stdout

    undone = cli("deprecate", "plant-classifier", "--undo")
    assert undone.stdout.strip() == "plant-classifier: not deprecated"
    assert json.loads(cli("search", "--json").stdout)["total"] == 1
    assert cli("deprecate", "nope").exit_code == 2


# -- import -----------------------------------------------------------------------------------


def git_repo(path: Path, package: str) -> str:
    """A committed copy of the typed module named ``package``; its ``file://`` URL."""
    assert GIT is not None
    shutil.copytree(TYPED_MODULE, path)
    pyproject = path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("Plant_Classifier", package))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "module"]):
        subprocess.run([GIT, "-C", str(path), *args], env=env, check=True)
    return path.as_uri()


@needs_git
def test_import_an_index_with_a_broken_entry(data_dir: Path, tmp_path: Path) -> None:
    good = [git_repo(tmp_path / "repos" / n, n) for n in ("alpha-model", "beta-model")]
    index = tmp_path / "index.yml"
    broken = (tmp_path / "repos" / "missing").as_uri()
    index.write_text(yaml.safe_dump([good[0], {"url": good[1], "ref": "main"}, broken]))

    result = cli("import", index)

    assert result.exit_code == 1, result.output
    assert "published: 2, unchanged: 0, errors: 1" in result.stdout
    assert "published alpha-model 1.2.0" in result.stdout
    assert "error missing: " in result.stderr
    assert "git clone failed" in result.stderr
    names = {m["name"] for m in json.loads(cli("search", "--json").stdout)["modules"]}
    assert names == {"alpha-model", "beta-model"}

    index.write_text(yaml.safe_dump(good))
    again = cli("import", index)
    assert again.exit_code == 0, again.output
    assert "published: 0, unchanged: 2, errors: 0" in again.stdout


@needs_git
def test_import_an_ai4os_style_catalog_repository_by_its_git_url(
    data_dir: Path, tmp_path: Path, git_identity: None
) -> None:
    with served_catalog(tmp_path) as url:
        result = cli("import", url)
    assert result.exit_code == 1, result.output  # some modules AI4OS refuses
    out = result.stdout
    assert "published ai4os-demo-app 1.0.0" in out
    assert "published: 2, unchanged: 0, errors: 3" in out
    assert "  warning: " in out
    assert "read as YAML, as AI4OS reads it" in out
    assert (
        "error ai4os-yolo-torch: ai4-metadata.yml (AI4OS schema 2.0.0): libraries.0: 'Pytorch'"
        in result.stderr
    )


def test_import_of_a_missing_index_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    result = cli("import", tmp_path / "index.yml")
    assert result.exit_code == 2
    assert "index file not found" in result.stderr


@needs_git
def test_publish_a_git_repository(data_dir: Path, tmp_path: Path) -> None:
    url = git_repo(tmp_path / "gamma", "gamma-model")
    result = cli("publish", url, "--ref", "main", "--version", "1.0.0")
    assert result.exit_code == 0, result.output
    record = json.loads(cli("show", "gamma-model", "--json").stdout)["version"]
    assert record["source_url"] == url
    assert record["commit"]
    assert len(record["commit"]) == 40


# -- pull -------------------------------------------------------------------------------------


def test_pull_writes_verified_artifacts_and_metadata(
    data_dir: Path, module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("publish", module, "--artifact", "weights/model.bin", "--artifact", "labels.txt")
    monkeypatch.chdir(tmp_path)

    result = cli("pull", "plant-classifier")

    assert result.exit_code == 0, result.output
    dest = tmp_path / "plant-classifier-1.2.0"
    assert "sha256 ok" in result.stdout
    for name in ("weights/model.bin", "labels.txt"):
        assert sha256(dest / name) == sha256(module / name)
    assert load_metadata(dest / "ai4-metadata.yml") == load_metadata(module)
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert written == ["ai4-metadata.yml", "labels.txt", "weights", "weights/model.bin"]

    elsewhere = cli("pull", "plant-classifier", "--version", "latest", "--dest", tmp_path / "out")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert (tmp_path / "out" / "labels.txt").read_text() == "rose\ntulip\n"


def test_pull_without_artifacts_writes_the_metadata(
    data_dir: Path, module: Path, tmp_path: Path
) -> None:
    cli("publish", module)
    result = cli("pull", "plant-classifier", "--dest", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ai4-metadata.yml"]
    (tmp_path / "file").write_text("")
    refused = cli("pull", "plant-classifier", "--dest", tmp_path / "file")
    assert refused.exit_code == 2
    assert "is not a directory" in refused.stderr


def test_pull_refuses_a_corrupted_artifact(data_dir: Path, module: Path, tmp_path: Path) -> None:
    cli("publish", module, "--artifact", "weights/model.bin")
    digest = sha256(module / "weights" / "model.bin")
    stored = Path(Settings().catalog_artifacts_root()) / "sha256" / digest[:2] / digest
    stored.write_bytes(b"tampered" + stored.read_bytes()[8:])
    dest = tmp_path / "out"

    result = cli("pull", "plant-classifier", "--dest", dest)

    assert result.exit_code == 2
    assert "checksum mismatch for weights/model.bin" in result.stderr
    assert list(dest.rglob("*.bin*")) == []  # neither the file nor its partial download


def test_the_group_has_every_command() -> None:
    names = {command.name for command in app.registered_commands}
    assert names == {
        "search",
        "show",
        "versions",
        "publish",
        "import",
        "validate",
        "alias",
        "pull",
        "deprecate",
        "yank",
        "unyank",
    }


# -- the real command line --------------------------------------------------------------------

registered = pytest.mark.skipif(
    not catalog_registered(), reason="the catalog group is not registered in modelport.cli yet"
)


def modelport(*args: str | Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", "catalog", *map(str, args)],
        env=subprocess_env(MODELPORT_DATA_DIR=str(data_dir), COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@registered
def test_validate_exit_codes_in_a_real_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert modelport("validate", TYPED_MODULE, data_dir=data).returncode == 0
    (tmp_path / "ai4-metadata.yml").write_text("metadata_version: 2.0.0\n")
    invalid = modelport("validate", tmp_path, data_dir=data)
    assert invalid.returncode == 1
    assert "  title: " in invalid.stdout
    assert modelport("validate", tmp_path / "none.yml", data_dir=data).returncode == 2


@pytest.mark.slow
@registered
def test_publish_and_search_in_a_real_process(module: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    published = modelport("publish", module, data_dir=data)
    assert published.returncode == 0, published.stderr
    page = json.loads(modelport("search", "plant", "--json", data_dir=data).stdout)
    assert [m["name"] for m in page["modules"]] == ["plant-classifier"]
    again = modelport("publish", module, data_dir=data)
    assert again.returncode == 2
    assert "already published" in again.stderr
