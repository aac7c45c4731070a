"""Module sources: project directories, git clones and catalog indexes, with real git repos."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from modelport.catalog.sources import (
    EntryPoint,
    IndexEntry,
    IndexEntryError,
    ModuleSource,
    check_repository_url,
    fetch_repository,
    parse_index,
    read_index_modules,
    read_module,
    redact_url,
)
from modelport.errors import InvalidInput, NotFound
from tests.catalog.samples import FIXTURES

SOURCES = FIXTURES / "sources"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed identity, and no user or system git configuration leaking into the tests."""
    for key, value in {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def make_repo(
    path: Path, template: Path | None = None, files: dict[str, str] | None = None
) -> Path:
    """A git repository at ``path`` (branch ``main``) with one commit of the given files."""
    if template is not None:
        shutil.copytree(template, path)
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "--quiet", "--initial-branch", "main")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--message", "first")
    return path


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Commit ``files`` on the current branch and return the new HEAD."""
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD")


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


# ---------------------------------------------------------------------------------------------
# parse_index

GITMODULES = """\
[submodule "ai4os-demo-app"]
\tpath = ai4os-demo-app
\turl = https://github.com/ai4os-hub/ai4os-demo-app
\tbranch = main
[submodule "plants-classification"]
\tpath = modules/plants-classification
\turl = https://github.com/ai4os-hub/plants-classification.git
; a comment, as git allows
[submodule "mods"]
\tpath = mods
\turl = "git@github.com:deephdc/mods.git"
"""


def test_parse_gitmodules(tmp_path: Path) -> None:
    index = tmp_path / ".gitmodules"
    index.write_text(GITMODULES)

    assert parse_index(index) == [
        IndexEntry(
            "ai4os-demo-app",
            "https://github.com/ai4os-hub/ai4os-demo-app",
            ref="main",
            path="ai4os-demo-app",
        ),
        IndexEntry(
            "plants-classification",
            "https://github.com/ai4os-hub/plants-classification.git",
            path="modules/plants-classification",
        ),
        IndexEntry("mods", "git@github.com:deephdc/mods.git", path="mods"),
    ]


def test_gitmodules_errors_name_the_file_and_submodule(tmp_path: Path) -> None:
    index = tmp_path / ".gitmodules"
    index.write_text('[submodule "a"]\n\tpath = a\n[submodule "b"]\n\turl = x\n')

    with pytest.raises(InvalidInput) as caught:
        parse_index(index)

    assert caught.value.errors == {
        f'{index}: submodule "a"': ["missing url"],
        f'{index}: submodule "b"': ["missing path"],
    }


def test_parse_a_yaml_list_in_both_forms(tmp_path: Path) -> None:
    index = tmp_path / "MODULES.yml"
    index.write_text(
        "- https://github.com/ai4os-hub/ai4os-demo-app\n"
        "- url: https://github.com/ai4os-hub/plants-classification.git\n"
        "  name: plants\n"
        "  ref: v1.2.0\n"
        "- module: https://github.com/deephdc/DEEP-OC-mods\n"
    )

    assert parse_index(index) == [
        IndexEntry("ai4os-demo-app", "https://github.com/ai4os-hub/ai4os-demo-app"),
        IndexEntry("plants", "https://github.com/ai4os-hub/plants-classification.git", "v1.2.0"),
        IndexEntry("DEEP-OC-mods", "https://github.com/deephdc/DEEP-OC-mods"),
    ]


def test_yaml_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    index = tmp_path / "modules.yaml"
    index.write_text("- https://example.org/a\n- name: b\n- 42\n- url: x\n  colour: red\n")

    with pytest.raises(InvalidInput) as caught:
        parse_index(index)

    assert sorted(caught.value.errors) == [f"{index}: entry {n}" for n in (2, 3, 4)]
    assert caught.value.errors[f"{index}: entry 4"] == ["unknown keys: colour"]


@pytest.mark.parametrize(
    ("name", "text"),
    [("modules.yml", "url: https://example.org/a\n"), ("modules.yml", "- [\n"), ("index.txt", "")],
)
def test_bad_index_files(tmp_path: Path, name: str, text: str) -> None:
    index = tmp_path / name
    index.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        parse_index(index)
    assert list(caught.value.errors) == [str(index)]


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        parse_index(tmp_path / ".gitmodules")


# ---------------------------------------------------------------------------------------------
# read_index_modules


def test_read_index_modules_collects_per_entry_errors(tmp_path: Path) -> None:
    repos = tmp_path / "repos"
    typed = make_repo(repos / "typed", SOURCES / "typed_module")
    git(typed, "checkout", "--quiet", "-b", "stable")
    deep = make_repo(repos / "deep", SOURCES / "deep_module")
    no_metadata = make_repo(repos / "bare", files={"README.md": "no metadata\n"})
    index = tmp_path / ".gitmodules"
    index.write_text(
        f'[submodule "typed"]\n\tpath = typed\n\turl = {typed.as_uri()}\n\tbranch = stable\n'
        f'[submodule "missing"]\n\tpath = missing\n\turl = {(repos / "missing").as_uri()}\n'
        f'[submodule "deep/../../escape"]\n\tpath = deep\n\turl = {deep.as_uri()}\n'
        f'[submodule "bare"]\n\tpath = bare\n\turl = {no_metadata.as_uri()}\n'
    )
    workdir = tmp_path / "work"

    results = read_index_modules(index, workdir)

    typed_source, missing, deep_source, bare = results
    assert isinstance(typed_source, ModuleSource)
    assert (typed_source.name, typed_source.source_url) == ("plant-classifier", typed.as_uri())
    assert typed_source.commit == git(typed, "rev-parse", "HEAD")
    assert isinstance(missing, IndexEntryError)
    assert missing.entry.name == "missing"
    assert "git clone failed" in missing.message
    assert isinstance(deep_source, ModuleSource)
    assert deep_source.path.parent == workdir  # the entry name cannot climb out of workdir
    assert deep_source.load_spec == "plant_classification.api"
    assert isinstance(bare, IndexEntryError)
    assert "ai4-metadata.yml" in bare.message
    assert sorted(p.name for p in workdir.iterdir()) == ["bare", "deep-..-..-escape", "typed"]


def test_read_index_modules_from_yaml_with_duplicate_names(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin", SOURCES / "typed_module")
    index = tmp_path / "modules.yml"
    index.write_text(f"- {origin.as_uri()}\n- url: {origin.as_uri()}\n  name: origin\n")

    results = read_index_modules(index, tmp_path / "work")

    assert all(isinstance(result, ModuleSource) for result in results)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["origin", "origin-2"]
