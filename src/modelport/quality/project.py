"""The static checks of a module project: metadata, license, project file and entry points."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from modelport.catalog.files import METADATA_FILENAMES, read_metadata_file
from modelport.catalog.license import normalize_license
from modelport.catalog.metadata import ModuleMetadata
from modelport.catalog.sources import ENTRY_POINT_GROUPS, EntryPoint, ModuleSource, read_module
from modelport.contract import discovery
from modelport.contract.base import ServedModel
from modelport.errors import InvalidInput, ModelportError, NotFound
from modelport.quality.report import CheckResult, Status

LICENSE_FILES: Final = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING")


def field_details(exc: ModelportError) -> list[str]:
    """One line per bad field of an InvalidInput, else the message."""
    if isinstance(exc, InvalidInput):
        return [f"{key}: {'; '.join(messages)}" for key, messages in exc.errors.items()]
    return [exc.message]


def check_metadata(path: Path) -> tuple[CheckResult, ModuleMetadata | None]:
    """The module's metadata exists and AI4OS accepts it; modelport's rules warn on top."""
    name = "metadata"
    try:
        report = read_metadata_file(path).report
    except NotFound:
        wanted = ", ".join(METADATA_FILENAMES)
        return CheckResult(name, Status.FAILED, f"no metadata file ({wanted})"), None
    except ModelportError as exc:
        return CheckResult(name, Status.FAILED, "invalid metadata", field_details(exc)), None
    if report.metadata is None:
        details = field_details(InvalidInput(report.errors))
        return CheckResult(name, Status.FAILED, "invalid metadata (AI4OS)", details), None
    if report.warnings:
        details = field_details(InvalidInput(report.warnings))
        summary = f"'{report.metadata.title}' is valid for AI4OS, with warnings"
        return CheckResult(name, Status.WARNING, summary, details), report.metadata
    return CheckResult(name, Status.PASSED, f"'{report.metadata.title}' is valid"), report.metadata


def read_pyproject(path: Path) -> dict[str, Any]:
    """The ``[project]`` table of the project's pyproject.toml ({} when absent or unreadable)."""
    try:
        data = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    project = data.get("project")
    return project if isinstance(project, dict) else {}


def _pyproject_license(project: dict[str, Any]) -> str | None:
    value = project.get("license")
    if isinstance(value, dict):  # the older table form: {text = "..."} or {file = "..."}
        value = value.get("text")
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_license(path: Path, metadata: ModuleMetadata | None) -> CheckResult:
    """An SPDX license is declared (metadata or pyproject) and a license file is present."""
    name = "license"
    declared = {
        "ai4-metadata": metadata.license if metadata is not None else None,
        "pyproject.toml": _pyproject_license(read_pyproject(path)),
    }
    details: list[str] = []
    found: dict[str, str] = {}
    for where, value in declared.items():
        if value is None:
            continue
        try:
            found[where] = normalize_license(value)
        except ValueError as exc:
            details.append(f"{where}: {exc}")
    if details:
        return CheckResult(name, Status.FAILED, "the license is not an SPDX expression", details)
    if not found:
        return CheckResult(
            name,
            Status.FAILED,
            "no license declared",
            ["set `license` (an SPDX expression, e.g. Apache-2.0) in ai4-metadata.yml"],
        )
    if len(set(found.values())) > 1:
        listed = [f"{where}: {value}" for where, value in found.items()]
        return CheckResult(name, Status.FAILED, "the declared licenses differ", listed)
    spdx = next(iter(found.values()))
    files = [f for f in LICENSE_FILES if (path / f).is_file()]
    if not files:
        wanted = ", ".join(LICENSE_FILES)
        return CheckResult(
            name, Status.WARNING, f"{spdx}, but no license file", [f"add one of: {wanted}"]
        )
    return CheckResult(name, Status.PASSED, f"{spdx} ({files[0]})", data={"license": spdx})


def _declared_entry_points(path: Path) -> tuple[EntryPoint, ...]:
    """Entry points from pyproject.toml alone (when the whole project cannot be read)."""
    groups = read_pyproject(path).get("entry-points") or {}
    return tuple(
        EntryPoint(group, str(key), value.strip())
        for group in ENTRY_POINT_GROUPS
        for key, value in (groups.get(group) or {}).items()
        if isinstance(value, str)
    )


def check_project(path: Path, metadata_ok: bool) -> tuple[CheckResult, ModuleSource | None]:
    """The project file reads (name, version) and declares a model entry point."""
    name = "project"
    try:
        module = read_module(path)
    except ModelportError as exc:
        if metadata_ok:
            return CheckResult(name, Status.FAILED, exc.message, field_details(exc)), None
        return CheckResult(name, Status.SKIPPED, "the metadata must be valid first"), None
    if not module.entry_points:
        groups = " or ".join(ENTRY_POINT_GROUPS)
        return CheckResult(
            name, Status.FAILED, f"no model entry point ({groups}) in {path.name}'s project"
        ), module
    listed = ", ".join(f"{ep.name} = {ep.value}" for ep in module.entry_points)
    result = CheckResult(name, Status.PASSED, f"{module.package} {module.version}: {listed}")
    if module.version_source == "missing":
        result.status = Status.WARNING
        result.details.append("the project declares no version")
    return result, module


def entry_points_of(path: Path, module: ModuleSource | None) -> tuple[EntryPoint, ...]:
    """The model entry points of the project (from pyproject alone if it could not be read)."""
    return module.entry_points if module is not None else _declared_entry_points(path)


def import_roots(path: Path) -> list[Path]:
    """Where the project's packages are importable from: ``src/`` (src layout) and the root."""
    roots = [path / "src"] if (path / "src").is_dir() else []
    return [*roots, path]


@contextmanager
def project_on_path(path: Path) -> Iterator[None]:
    """Make the project's code importable (first on sys.path), and forget it afterwards."""
    roots = [str(r.resolve()) for r in import_roots(path)]
    before = set(sys.modules)
    sys.path[:0] = roots
    try:
        yield
    finally:
        for root in roots:
            if root in sys.path:
                sys.path.remove(root)
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            # installed libraries stay: some (numpy) cannot be imported twice in one process
            installed = "site-packages" in origin or "dist-packages" in origin
            if not installed and any(origin.startswith(root) for root in roots):
                del sys.modules[name]


def load_entry_point(point: EntryPoint) -> ServedModel:
    """Load and adapt the model an entry point names (under the entry point's name)."""
    served = discovery.load(point.load_spec)  # by import path: the project need not be installed
    served.name = point.name
    return served


def check_entry_point(point: EntryPoint) -> tuple[CheckResult, ServedModel | None]:
    """The entry point imports and adapts to the contract."""
    name = f"entry point: {point.name}"
    try:
        served = load_entry_point(point)
    except ModelportError as exc:
        return CheckResult(name, Status.FAILED, exc.message, field_details(exc)), None
    except Exception as exc:  # the module's own import-time code raised
        why = f"cannot import {point.value}: {type(exc).__name__}: {exc}"
        return CheckResult(name, Status.FAILED, why), None
    trains = "predict and train" if served.trainable else "predict"
    return CheckResult(name, Status.PASSED, f"{point.value}: a {served.kind} model ({trains})"), (
        served
    )
