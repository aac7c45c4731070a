"""Where modules come from: a project directory (a clone of a repository: ``git.py``; indexes:
``index.py``). :func:`read_module` reads a project directory: its pyproject (or a legacy DEEP
module's ``setup.cfg``), its metadata, its git HEAD and README, never through a symbolic link
out of the directory.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from modelport.catalog.files import METADATA_FILENAMES, find_metadata_file, read_metadata_file
from modelport.catalog.git import git_output
from modelport.catalog.metadata import ModuleMetadata
from modelport.errors import InvalidInput, InvalidMetadata, NotFound
from modelport.storage.paths import safe_child

#: Entry-point groups that name a model, in the order their entries are listed.
ENTRY_POINT_GROUPS: Final = ("modelport.models", "deepaas.v2.model")
README_NAMES: Final = ("README.md", "README.rst", "README.txt", "README")

VersionSource = Literal["pyproject.toml", "setup.cfg", "dynamic", "missing"]

_ENTRY_POINT_VALUE = re.compile(r"^([\w.]+)\s*(?::\s*([\w.]+))?\s*(?:\[[^\]]*\])?$")


@dataclass(frozen=True)
class EntryPoint:
    """One declared model entry point: ``name = value`` in ``group``."""

    group: str
    name: str
    value: str

    @property
    def load_spec(self) -> str:
        """The ``module[:attr]`` to import, without extras."""
        match = _ENTRY_POINT_VALUE.match(self.value)
        assert match is not None  # values are validated when read
        module, attr = match.groups()
        return f"{module}:{attr}" if attr else module


@dataclass(frozen=True)
class ModuleSource:
    """A module project as found on disk: identity, metadata, entry points and provenance."""

    name: str
    version: str
    version_source: VersionSource
    metadata: ModuleMetadata
    entry_points: tuple[EntryPoint, ...]
    load_spec: str | None
    package: str | None
    source_url: str | None
    commit: str | None
    readme: str | None
    path: Path
    #: modelport's warnings on the metadata (AI4OS accepted it), by field
    metadata_warnings: dict[str, list[str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# A module project directory


def read_module(path: Path, *, source_url: str | None = None) -> ModuleSource:
    """Read a module project directory: pyproject/setup.cfg, metadata, git HEAD and README."""
    if not path.is_dir():
        raise NotFound(f"module directory not found: {path}")
    project = _read_pyproject(_inside(path, "pyproject.toml"))
    setup_cfg = _read_setup_cfg(_inside(path, "setup.cfg"))
    package = _str_or_none(project.get("name")) or _cfg_get(setup_cfg, "metadata", "name")
    version, version_source = _version(project, setup_cfg, _uses_pbr(path))
    entry_points = _pyproject_entry_points(project, _inside(path, "pyproject.toml"))
    entry_points += _setup_cfg_entry_points(setup_cfg, _inside(path, "setup.cfg"))
    metadata, warnings = _module_metadata(path)
    return ModuleSource(
        name=normalize_name(package or path.resolve().name),
        version=version,
        version_source=version_source,
        metadata=metadata,
        entry_points=entry_points,
        load_spec=entry_points[0].load_spec if entry_points else None,
        package=package,
        source_url=source_url or git_output(path, "config", "--get", "remote.origin.url"),
        commit=git_output(path, "rev-parse", "--verify", "HEAD"),
        readme=_readme(path, project),
        path=path,
        metadata_warnings=warnings,
    )


def _inside(path: Path, name: str) -> Path:
    """``path / name``, refused (InvalidInput naming the file) if a symbolic link leads out."""
    try:
        safe_child(path, name)
    except InvalidInput:
        raise InvalidInput(
            {name: ["leads out of the module directory (a symbolic link?): not read"]}
        ) from None
    return path / name


def normalize_name(name: str) -> str:
    """A name as PEP 503 normalises distribution names, other characters also folded to ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _module_metadata(path: Path) -> tuple[ModuleMetadata, dict[str, list[str]]]:
    """The module's metadata and modelport's warnings; InvalidInput naming the file's fields."""
    try:
        file = find_metadata_file(path)
    except NotFound:
        expected = ", ".join(METADATA_FILENAMES)
        raise InvalidInput(
            {str(path / "ai4-metadata.yml"): [f"missing: the module has none of {expected}"]}
        ) from None
    report = read_metadata_file(_inside(path, file.name)).report
    if report.metadata is None:
        raise InvalidMetadata(report.errors, file.name, report.schema_version)
    return report.metadata, report.warnings


def _read_pyproject(file: Path) -> dict[str, Any]:
    if not file.is_file():
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput({str(file): [f"invalid TOML: {exc}"]}) from None
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InvalidInput({f"{file}: [project]": ["expected a table"]})
    return project


def _read_setup_cfg(file: Path) -> configparser.ConfigParser | None:
    if not file.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(file.read_text(encoding="utf-8"), source=str(file))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InvalidInput({str(file): [f"invalid setup.cfg: {exc}"]}) from None
    return parser


def _cfg_get(parser: configparser.ConfigParser | None, section: str, key: str) -> str | None:
    if parser is None or not parser.has_option(section, key):
        return None
    return parser.get(section, key).strip() or None


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _uses_pbr(path: Path) -> bool:
    # pbr (the DEEP cookiecutter's build tool) derives the version from git tags.
    setup_py = _inside(path, "setup.py")
    return setup_py.is_file() and "pbr" in setup_py.read_text(encoding="utf-8", errors="replace")


def _version(
    project: Mapping[str, Any], setup_cfg: configparser.ConfigParser | None, pbr: bool
) -> tuple[str, VersionSource]:
    version = _str_or_none(project.get("version"))
    if version:
        return version, "pyproject.toml"
    if "version" in (project.get("dynamic") or []):
        return "0.0.0", "dynamic"
    version = None if project else _cfg_get(setup_cfg, "metadata", "version")
    if version and version.startswith(("attr:", "file:")):
        return "0.0.0", "dynamic"
    if version:
        return version, "setup.cfg"
    return "0.0.0", "dynamic" if pbr and not project else "missing"


def _pyproject_entry_points(project: Mapping[str, Any], file: Path) -> tuple[EntryPoint, ...]:
    groups = project.get("entry-points") or {}
    found: list[EntryPoint] = []
    errors: dict[str, list[str]] = {}
    for group in ENTRY_POINT_GROUPS:
        table = groups.get(group) if isinstance(groups, dict) else None
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            where = f"{file}: {group}.{name}"
            if not isinstance(value, str):
                errors[where] = [f"expected a 'module[:attr]' string, found {value!r}"]
                continue
            _add_entry_point(found, errors, where, EntryPoint(group, str(name), value.strip()))
    if errors:
        raise InvalidInput(errors)
    return tuple(found)


def _setup_cfg_entry_points(
    parser: configparser.ConfigParser | None, file: Path
) -> tuple[EntryPoint, ...]:
    if parser is None:
        return ()
    found: list[EntryPoint] = []
    errors: dict[str, list[str]] = {}
    # pbr (as DEEP modules use) reads [entry_points]; setuptools reads [options.entry_points].
    for section in ("entry_points", "options.entry_points"):
        for group in ENTRY_POINT_GROUPS:
            for line in (_cfg_get(parser, section, group) or "").splitlines():
                if not line.strip():
                    continue
                name, sep, value = line.partition("=")
                where = f"{file}: [{section}] {group}"
                if not sep:
                    errors.setdefault(where, []).append(f"expected 'name = module:attr': {line!r}")
                    continue
                point = EntryPoint(group, name.strip(), value.strip())
                _add_entry_point(found, errors, where, point)
    if errors:
        raise InvalidInput(errors)
    return tuple(found)


def _add_entry_point(
    found: list[EntryPoint], errors: dict[str, list[str]], where: str, point: EntryPoint
) -> None:
    if _ENTRY_POINT_VALUE.match(point.value):
        found.append(point)
    else:
        errors.setdefault(where, []).append(f"expected 'module[:attr]', found {point.value!r}")


def _readme(path: Path, project: Mapping[str, Any]) -> str | None:
    declared = project.get("readme")
    if isinstance(declared, dict):
        if isinstance(declared.get("text"), str):
            return str(declared["text"])
        declared = declared.get("file")
    candidates = [declared] if isinstance(declared, str) else []
    for name in [*candidates, *README_NAMES]:
        try:
            file = _inside(path, name)
        except InvalidInput:
            continue  # a README out of the module is no README of it
        if file.is_file():
            return file.read_text(encoding="utf-8", errors="replace")
    return None
