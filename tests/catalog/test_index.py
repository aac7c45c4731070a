"""Catalog indexes: .gitmodules and YAML lists, relative URLs, and a real catalog served by git.

The AI4OS catalog is a repository whose ``.gitmodules`` lists the module repositories. Here one
is built from REAL module metadata (``fixtures/wild``: ai4os-demo-app's ``ai4-metadata.yml``, a
DEEP v1 ``metadata.json`` with trailing commas, files AI4OS refuses) in repositories served by a
real ``git daemon`` on 127.0.0.1, listed with relative URLs, and imported.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.catalog.index import (
    IndexEntry,
    IndexEntryError,
    parse_index,
    read_index_modules,
    resolve_url,
)
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.catalog.sources import ModuleSource
from modelport.errors import InvalidInput, NotFound
from modelport.settings import Settings
from tests.catalog.gitrepos import git, make_repo, served_catalog
from tests.catalog.samples import FIXTURES

SOURCES = FIXTURES / "sources"
WILD = FIXTURES / "wild" / "files"
pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.usefixtures("git_identity"),
]


@pytest.mark.parametrize(
    ("url", "base", "resolved"),
    [
        ("../ai4os-demo-app", "https://github.com/ai4os-hub/modules-catalog", None),
        ("../ai4os-demo-app", "https://github.com/ai4os-hub/modules-catalog/", None),
        ("./sub/x.git", "git://127.0.0.1:9418/catalog", "git://127.0.0.1:9418/catalog/sub/x.git"),
        ("../../other/x", "https://host/org/catalog", "https://host/other/x"),
        ("../mods.git", "git@github.com:deephdc/deep-oc.git", "git@github.com:deephdc/mods.git"),
        ("../x", "/srv/catalogs/main", "/srv/catalogs/x"),
        ("https://github.com/a/b", "https://github.com/c/d", "https://github.com/a/b"),
        ("../x", None, "../x"),
    ],
)
def test_relative_urls_resolve_as_git_resolves_them(
    url: str, base: str | None, resolved: str | None
) -> None:
    expected = resolved or "https://github.com/ai4os-hub/ai4os-demo-app"
    assert resolve_url(url, base) == expected


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


# ---------------------------------------------------------------------------------------------
# A real catalog: module repositories with real metadata, served by git daemon


@pytest.fixture
def catalog_service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with served_catalog(tmp_path) as url:
        yield url


def test_import_a_catalog_repository_served_by_git(
    served: str, catalog_service: CatalogService
) -> None:
    report = catalog_service.import_index(served, published_by="operator")

    assert sorted(report.published) == [
        "ai4os-demo-app 1.0.0",
        f"zooprocess-multiple-classifier {_pbr_version(catalog_service)}",
    ]
    assert set(report.errors) == {"ai4os-yolo-torch", "cold-coral-segmentation", "gone"}
    assert report.errors["ai4os-yolo-torch"] == (
        "ai4-metadata.yml (AI4OS schema 2.0.0): libraries.0: 'Pytorch' is not one of "
        "['TensorFlow', 'PyTorch', 'Keras', 'Scikit-learn', 'XGBoost', 'LightGBM', "
        "'CatBoost', 'Other']"
    )
    assert report.errors["cold-coral-segmentation"].startswith(
        "ai4-metadata.yml (AI4OS schema 2.0.0): dates.created: "
        "datetime.date(2024, 9, 27) is not of type 'string'; YAML reads an unquoted date as a "
        "date, write it quoted: '2024-09-27'"
    )
    assert "git clone failed" in report.errors["gone"]
    demo = catalog_service.registry.version("ai4os-demo-app")
    assert demo.metadata["links"]["docker_image"] == "ai4oshub/ai4os-demo-app"
    assert demo.source_url == served.rsplit("/", 1)[0] + "/ai4os-demo-app"
    deep = catalog_service.registry.version("zooprocess-multiple-classifier")
    assert deep.load_spec == "zooprocess_multiple_classifier.api"
    (warnings,) = [w for label, w in report.warnings.items() if label.startswith("zooprocess")]
    assert any("read as YAML, as AI4OS reads it" in w for w in warnings)

    again = catalog_service.import_index(served)
    assert again.published == []
    assert sorted(again.unchanged) == sorted(report.published)


def _pbr_version(service: CatalogService) -> str:
    return service.registry.version("zooprocess-multiple-classifier").version


def test_a_catalog_checkout_resolves_relative_urls_against_its_origin(
    served: str, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "--quiet", served, str(checkout))
    results = read_index_modules(checkout, tmp_path / "modules")
    sources = [r for r in results if isinstance(r, ModuleSource)]
    assert [s.name for s in sources] == ["ai4os-demo-app", "zooprocess-multiple-classifier"]
    origin = served.rsplit("/", 1)[0]
    assert sources[0].source_url == f"{origin}/ai4os-demo-app"
    with pytest.raises(NotFound, match="no index"):
        read_index_modules(tmp_path / "modules", tmp_path / "elsewhere")
