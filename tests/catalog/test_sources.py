"""Module sources: project directories, git clones and catalog indexes, with real git repos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelport.catalog.git import check_repository_url, fetch_repository, redact_url
from modelport.catalog.sources import EntryPoint, read_module
from modelport.errors import InvalidInput, NotFound
from tests.catalog.gitrepos import commit, git, make_repo
from tests.catalog.samples import FIXTURES

SOURCES = FIXTURES / "sources"
pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.usefixtures("git_identity"),
]


# ---------------------------------------------------------------------------------------------
# read_module


def test_read_typed_module(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plant", SOURCES / "typed_module")
    git(repo, "remote", "add", "origin", "https://github.com/ai4os-hub/plants-classification")

    module = read_module(repo)

    assert module.name == "plant-classifier"
    assert module.package == "Plant_Classifier"
    assert (module.version, module.version_source) == ("1.2.0", "pyproject.toml")
    assert module.metadata.title == "Plant species classifier"
    assert module.entry_points == (
        EntryPoint(
            "modelport.models", "plant-classifier", "plant_classifier.model:PlantClassifier"
        ),
    )
    assert module.load_spec == "plant_classifier.model:PlantClassifier"
    assert module.source_url == "https://github.com/ai4os-hub/plants-classification"
    assert module.commit == git(repo, "rev-parse", "HEAD")
    assert module.readme is not None
    assert module.readme.startswith("# Plant classifier")


def test_read_legacy_deep_module(tmp_path: Path) -> None:
    module_dir = shutil.copytree(SOURCES / "deep_module", tmp_path / "plants-classification-tf")

    module = read_module(module_dir, source_url="https://github.com/deephdc/plants-tf")

    assert module.name == "plants-classification-tf"
    assert module.package == "plants-classification-tf"
    # pbr takes the version from git tags: nothing to read statically
    assert (module.version, module.version_source) == ("0.0.0", "dynamic")
    assert module.metadata.title == "Plant classification"  # migrated from DEEP v1
    assert module.entry_points == (
        EntryPoint("deepaas.v2.model", "plants", "plant_classification.api"),
    )
    assert module.load_spec == "plant_classification.api"
    assert module.source_url == "https://github.com/deephdc/plants-tf"
    assert module.commit is None  # not a git work tree
    assert module.readme is not None
    assert module.readme.startswith("Plant classification")


def test_dynamic_version_and_both_entry_point_groups(tmp_path: Path) -> None:
    module_dir = shutil.copytree(SOURCES / "typed_module", tmp_path / "My Module")
    (module_dir / "pyproject.toml").write_text(
        "[project]\n"
        'name = "my.module"\n'
        'dynamic = ["version"]\n'
        '[project.entry-points."deepaas.v2.model"]\n'
        'legacy = "my_module.api"\n'
        '[project.entry-points."modelport.models"]\n'
        'typed = "my_module.model:Model [gpu]"\n'
        '[project.entry-points."console_scripts"]\n'
        'ignored = "my_module.cli:main"\n'
    )

    module = read_module(module_dir)

    assert (module.name, module.package) == ("my-module", "my.module")
    assert (module.version, module.version_source) == ("0.0.0", "dynamic")
    assert [point.group for point in module.entry_points] == [
        "modelport.models",
        "deepaas.v2.model",
    ]
    assert module.load_spec == "my_module.model:Model"  # the first, without extras
    assert module.source_url is None


def test_directory_name_when_no_project_and_no_entry_points(tmp_path: Path) -> None:
    module_dir = tmp_path / "Bare_Module.v2"
    module_dir.mkdir()
    shutil.copy(FIXTURES / "minimal.ai4-metadata.yml", module_dir / "ai4-metadata.yml")

    module = read_module(module_dir)

    assert module.name == "bare-module-v2"
    assert module.package is None
    assert (module.version, module.version_source) == ("0.0.0", "missing")
    assert (module.entry_points, module.load_spec, module.readme) == ((), None, None)


def test_missing_metadata_names_the_file(tmp_path: Path) -> None:
    module_dir = shutil.copytree(SOURCES / "typed_module", tmp_path / "module")
    (module_dir / "ai4-metadata.yml").unlink()

    with pytest.raises(InvalidInput) as caught:
        read_module(module_dir)

    assert list(caught.value.errors) == [str(module_dir / "ai4-metadata.yml")]
    assert "metadata.json" in caught.value.errors[str(module_dir / "ai4-metadata.yml")][0]


def test_bad_entry_point_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    module_dir = shutil.copytree(SOURCES / "typed_module", tmp_path / "module")
    pyproject = module_dir / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "m"\n[project.entry-points."modelport.models"]\nm = "a b"\n'
    )
    with pytest.raises(InvalidInput) as caught:
        read_module(module_dir)
    assert list(caught.value.errors) == [f"{pyproject}: modelport.models.m"]

    pyproject.write_text("[project\n")
    with pytest.raises(InvalidInput) as caught:
        read_module(module_dir)
    assert list(caught.value.errors) == [str(pyproject)]


def test_read_module_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_module(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------
# fetch_repository


def test_fetch_a_file_url(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", SOURCES / "typed_module")
    head = git(origin, "rev-parse", "HEAD")

    dest = fetch_repository(origin.as_uri(), tmp_path / "clones" / "plant")

    assert dest == tmp_path / "clones" / "plant"
    assert git(dest, "rev-parse", "HEAD") == head
    assert git(dest, "rev-list", "--count", "HEAD") == "1"  # shallow
    assert sorted(p.name for p in (tmp_path / "clones").iterdir()) == ["plant"]  # no staging left
    assert read_module(dest).source_url == origin.as_uri()


def test_fetch_a_branch_and_a_tag(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", SOURCES / "typed_module")
    git(origin, "tag", "v1.2.0")
    git(origin, "checkout", "--quiet", "-b", "dev")
    dev_head = commit(origin, {"CHANGES.md": "dev work\n"}, "on dev")
    git(origin, "checkout", "--quiet", "main")

    on_dev = fetch_repository(origin.as_uri(), tmp_path / "dev", ref="dev")
    on_main = fetch_repository(origin.as_uri(), tmp_path / "main")
    at_tag = fetch_repository(origin.as_uri(), tmp_path / "tag", ref="v1.2.0")

    assert git(on_dev, "rev-parse", "HEAD") == dev_head
    assert (on_dev / "CHANGES.md").is_file()
    assert not (on_main / "CHANGES.md").exists()
    assert git(at_tag, "rev-parse", "HEAD") == git(origin, "rev-parse", "v1.2.0")


def test_fetch_into_an_existing_empty_directory(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    (tmp_path / "dest").mkdir()
    assert (fetch_repository(origin.as_uri(), tmp_path / "dest") / "README.md").is_file()


def test_fetch_a_local_path(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    assert (fetch_repository(str(origin), tmp_path / "dest") / "README.md").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/repo.git",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "--upload-pack=touch /tmp/pwned",
        "",
    ],
)
def test_refused_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidInput):
        fetch_repository(url, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/ai4os-hub/ai4os-demo-app",
        "http://example.org/repo.git",
        "ssh://git@github.com/ai4os-hub/x.git",
        "git://example.org/x.git",
        "git@github.com:ai4os-hub/x.git",
        "file:///srv/repos/x",
        "/srv/repos/x",
        "../x",
    ],
)
def test_accepted_urls(url: str) -> None:
    check_repository_url(url)


def test_fetch_a_nonexistent_repository(tmp_path: Path) -> None:
    url = (tmp_path / "missing").as_uri()
    dest = tmp_path / "dest"

    with pytest.raises(InvalidInput) as caught:
        fetch_repository(url, dest)

    (message,) = caught.value.errors[url]
    assert message.startswith("git clone failed: ")
    assert "does not appear to be a git repository" in message or "not found" in message
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no half clone, no staging directory


def test_fetch_an_unknown_ref_leaves_an_existing_empty_dest_empty(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    dest = tmp_path / "dest"
    dest.mkdir()

    with pytest.raises(InvalidInput) as caught:
        fetch_repository(origin.as_uri(), dest, ref="no-such-branch")

    assert "no-such-branch" in caught.value.errors[origin.as_uri()][0]
    assert list(dest.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "origin"]


def test_fetch_timeout_ends_git_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", "sleep 30; true")  # an ssh server that never answers
    url = "ssh://git@example.invalid/repo.git"

    with pytest.raises(InvalidInput) as caught:
        fetch_repository(url, tmp_path / "dest", timeout=0.5)

    assert caught.value.errors == {url: ["git clone did not finish within 0.5 s"]}
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_a_non_empty_dest(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n")

    with pytest.raises(InvalidInput) as caught:
        fetch_repository(origin.as_uri(), dest)

    assert list(caught.value.errors) == [str(dest)]
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_fetch_refuses_an_option_as_ref(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", files={"README.md": "hi\n"})
    with pytest.raises(InvalidInput) as caught:
        fetch_repository(origin.as_uri(), tmp_path / "dest", ref="--upload-pack=x")
    assert list(caught.value.errors) == ["ref"]


def test_credentials_are_redacted() -> None:
    assert redact_url("https://user:s3cret@example.org:8443/r.git") == (
        "https://user:***@example.org:8443/r.git"
    )
    assert redact_url("https://example.org/r.git") == "https://example.org/r.git"
    with pytest.raises(InvalidInput) as caught:
        check_repository_url("ftp://user:s3cret@example.org/r.git")
    assert "s3cret" not in str(caught.value.errors)
