"""Where modules come from: a project directory, or a git repository (indexes: ``index.py``).

:func:`fetch_repository` runs ``git clone --depth 1`` (no shell, no prompts) into a sibling
temporary directory and moves it into place only once the clone succeeded, so a failed clone
never leaves anything in ``dest``. :func:`read_module` reads a project directory: its pyproject
(or a legacy DEEP module's ``setup.cfg``), its metadata, its git HEAD and README.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from modelport.catalog.files import METADATA_FILENAMES, find_metadata_file, read_metadata_file
from modelport.catalog.metadata import ModuleMetadata
from modelport.errors import InvalidInput, InvalidMetadata, ModelportError, NotFound

#: Entry-point groups that name a model, in the order their entries are listed.
ENTRY_POINT_GROUPS: Final = ("modelport.models", "deepaas.v2.model")
#: URL schemes git may clone from; ``ext::`` and other transports run commands and are refused.
ALLOWED_SCHEMES: Final = frozenset({"https", "http", "ssh", "git", "file"})
README_NAMES: Final = ("README.md", "README.rst", "README.txt", "README")

VersionSource = Literal["pyproject.toml", "setup.cfg", "dynamic", "missing"]

_ENTRY_POINT_VALUE = re.compile(r"^([\w.]+)\s*(?::\s*([\w.]+))?\s*(?:\[[^\]]*\])?$")
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?[\w.-]+:(?!//)")


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
    project = _read_pyproject(path / "pyproject.toml")
    setup_cfg = _read_setup_cfg(path / "setup.cfg")
    package = _str_or_none(project.get("name")) or _cfg_get(setup_cfg, "metadata", "name")
    version, version_source = _version(project, setup_cfg, _uses_pbr(path))
    entry_points = _pyproject_entry_points(project, path / "pyproject.toml")
    entry_points += _setup_cfg_entry_points(setup_cfg, path / "setup.cfg")
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
    report = read_metadata_file(file).report
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
    setup_py = path / "setup.py"
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
        file = path / name
        if file.is_file():
            return file.read_text(encoding="utf-8", errors="replace")
    return None


# ---------------------------------------------------------------------------------------------
# Cloning a repository


def fetch_repository(url: str, dest: Path, *, ref: str | None = None, timeout: float = 60) -> Path:
    """Shallow-clone ``url`` (at branch or tag ``ref``) into ``dest``; nothing left on failure."""
    check_repository_url(url)
    if ref is not None and (not ref.strip() or ref.startswith("-")):
        raise InvalidInput({"ref": [f"not a branch or tag name: {ref!r}"]})
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput({str(dest): ["the clone destination exists and is not empty"]})
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    command = [_git(), "clone", "--quiet", "--depth", "1", "--no-tags"]
    command += ["--branch", ref] if ref else []
    command += ["--", url, str(staging / "repo")]
    try:
        _run_clone(command, redact_url(url), timeout)
        if dest.exists():
            dest.rmdir()
        (staging / "repo").rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def is_git_url(source: str) -> bool:
    """Whether ``source`` names a remote repository (``scheme://...`` or scp-like ``host:path``)."""
    return "://" in source or bool(_SCP_LIKE.match(source))


def check_repository_url(url: str) -> None:
    """Refuse a URL git should not clone: an unknown scheme, a transport helper, an option."""
    shown = redact_url(url)
    if not url.strip() or url.startswith("-"):
        raise InvalidInput({shown or "url": ["not a repository URL or path"]})
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in ALLOWED_SCHEMES:
            allowed = ", ".join(sorted(ALLOWED_SCHEMES))
            raise InvalidInput({shown: [f"unsupported URL scheme {scheme!r}; use {allowed}"]})
    elif "::" in url.split("/", 1)[0]:
        raise InvalidInput({shown: ["git transport helpers (<transport>::<address>) are refused"]})
    # Otherwise a local path, or scp-like ssh (user@host:path), which git treats as ssh.


def redact_url(url: str) -> str:
    """The URL with any password or token in its user part replaced by ``***``."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _run_clone(command: list[str], shown_url: str, timeout: float) -> None:
    try:
        # No shell, and the URL comes after "--": it can only ever be a repository argument.
        process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_git_env(),
            start_new_session=True,  # so a timeout also ends git's helpers (index-pack, remote-*)
        )
    except OSError as exc:
        raise ModelportError(f"cannot run git: {exc}") from exc
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise InvalidInput(
            {shown_url: [f"git clone did not finish within {timeout:g} s"]}
        ) from None
    if process.returncode != 0:
        message = stderr.decode("utf-8", errors="replace").strip() or f"exit {process.returncode}"
        raise InvalidInput({shown_url: [f"git clone failed: {message}"]})


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise ModelportError("git is not installed (no 'git' on PATH)")
    return git


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password nobody will type
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env["LC_ALL"] = "C"  # git's messages in English, as they are shown to users and matched
    return env


def git_output(path: Path, *args: str) -> str | None:
    """What a git command prints in ``path`` (stripped, redacted), or None when it fails."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed git subcommands, no shell
            [git, "-C", str(path), *args],
            capture_output=True,
            text=True,
            env=_git_env(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip()
    return redact_url(value) if result.returncode == 0 and value else None
