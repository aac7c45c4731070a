"""Catalog indexes: the lists of module repositories a catalog is imported from.

An index is kept as the AI4OS and DEEP catalogs keep theirs: a ``.gitmodules`` file (one
``[submodule "name"]`` section per module, with ``path``, ``url`` and an optional ``branch``), or a
YAML list of repositories (``- https://...`` strings, or mappings with ``url`` and optional
``name`` and ``ref``; DEEP's ``MODULES.yml`` spelling ``- module: https://...`` is accepted).
An index is given as that file, as a directory holding one (a checkout of the catalog
repository), or as the URL of the catalog repository itself (cloned to read its ``.gitmodules``).

A ``.gitmodules`` URL may be relative (``../ai4os-demo-app``), as git allows: it is resolved
against the catalog repository's URL (its ``origin`` for a checkout, the URL it was cloned from),
else against the index's directory, the way ``git submodule`` resolves it.
"""

from __future__ import annotations

import configparser
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped, unused-ignore]

from modelport.catalog.git import fetch_repository, git_output, is_git_url, redact_url
from modelport.catalog.sources import ModuleSource, read_module
from modelport.errors import InvalidInput, InvalidMetadata, ModelportError, NotFound

_SUBMODULE_SECTION = re.compile(r'^submodule\s+"(.+)"$')
#: The index file names looked for in a catalog repository, in this order.
INDEX_FILENAMES = (".gitmodules", "MODULES.yml", "modules.yml")


@dataclass(frozen=True)
class IndexEntry:
    """One repository listed in a catalog index."""

    name: str
    url: str
    ref: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class IndexEntryError:
    """An index entry that could not be cloned or read, and why."""

    entry: IndexEntry
    error: ModelportError

    @property
    def message(self) -> str:
        """The error as one line of text (see :func:`describe_error`)."""
        return describe_error(self.error)


def describe_error(error: ModelportError) -> str:
    """An error as one line, an ``InvalidInput`` as its fields' messages (AI4OS's, for metadata:
    ``ai4-metadata.yml (AI4OS schema 2.0.0): libraries.0: 'Pytorch' is not one of [...]``)."""
    if isinstance(error, InvalidInput):
        prefix = f"{error.source}: " if isinstance(error, InvalidMetadata) else ""
        parts = [f"{prefix}{key}: {'; '.join(msgs)}" for key, msgs in error.errors.items()]
        return " | ".join(parts) or error.message
    return error.message


def parse_index(path: Path) -> list[IndexEntry]:
    """Read a catalog index: a ``.gitmodules`` file, or a YAML list of repositories."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"index file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput({str(path): [f"cannot read the file: {exc}"]}) from None
    if path.name == ".gitmodules" or path.suffix == ".gitmodules":
        return _parse_gitmodules(text, path)
    if path.suffix.lower() in {".yml", ".yaml"}:
        return _parse_yaml_index(text, path)
    raise InvalidInput({str(path): ["unknown index format: expected .gitmodules, .yml or .yaml"]})


def _parse_gitmodules(text: str, file: Path) -> list[IndexEntry]:
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, allow_no_value=True, default_section="\0none"
    )
    try:
        parser.read_string(text, source=str(file))
    except configparser.Error as exc:
        raise InvalidInput({str(file): [f"invalid .gitmodules: {exc}"]}) from None
    entries: list[IndexEntry] = []
    errors: dict[str, list[str]] = {}
    for section in parser.sections():
        match = _SUBMODULE_SECTION.match(section.strip())
        if match is None:
            continue  # git ignores other sections in .gitmodules too
        name = match.group(1)
        values = {key: _unquote(value) for key, value in parser.items(section)}
        url, sub_path = values.get("url"), values.get("path")
        missing = [key for key, value in (("url", url), ("path", sub_path)) if not value]
        if url is None or sub_path is None or missing:
            errors[f'{file}: submodule "{name}"'] = [f"missing {' and '.join(missing)}"]
            continue
        entries.append(IndexEntry(name=name, url=url, ref=values.get("branch"), path=sub_path))
    if errors:
        raise InvalidInput(errors)
    return entries


def _unquote(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value or None


def _parse_yaml_index(text: str, file: Path) -> list[IndexEntry]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput({str(file): [f"invalid YAML: {exc}"]}) from None
    if data is None:
        return []
    if not isinstance(data, list):
        found = type(data).__name__
        raise InvalidInput({str(file): [f"expected a list of repositories, found a {found}"]})
    entries: list[IndexEntry] = []
    errors: dict[str, list[str]] = {}
    for number, item in enumerate(data, start=1):
        try:
            entries.append(_yaml_entry(item))
        except ValueError as exc:
            errors[f"{file}: entry {number}"] = [str(exc)]
    if errors:
        raise InvalidInput(errors)
    return entries


def _yaml_entry(item: object) -> IndexEntry:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise ValueError(f"expected a URL or a mapping with 'url', found {item!r}")
    url = item.get("url", item.get("module"))
    if not isinstance(url, str) or not url.strip():
        raise ValueError("missing 'url' (a repository URL or path)")
    unknown = set(item) - {"url", "module", "name", "ref", "branch"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    name, ref = item.get("name"), item.get("ref", item.get("branch"))
    for key, value in (("name", name), ("ref", ref)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string, found {value!r}")
    return IndexEntry(name=name or _name_from_url(url), url=url.strip(), ref=ref)


def _name_from_url(url: str) -> str:
    tail = re.split(r"[/:]", url.rstrip("/"))[-1]
    return tail.removesuffix(".git") or url


def read_index_modules(
    index: str | Path, workdir: Path, *, timeout: float = 60
) -> list[ModuleSource | IndexEntryError]:
    """Clone and read every module of an index in order, collecting per-entry errors."""
    results: list[ModuleSource | IndexEntryError] = []
    used: set[str] = set()
    with open_index(index, timeout=timeout) as (file, base):
        entries = parse_index(file)
    for listed in entries:
        entry = IndexEntry(listed.name, resolve_url(listed.url, base), listed.ref, listed.path)
        dest = workdir / _unique_dirname(entry.name, used)
        try:
            fetch_repository(entry.url, dest, ref=entry.ref, timeout=timeout)
            results.append(read_module(dest, source_url=redact_url(entry.url)))
        except ModelportError as exc:
            results.append(IndexEntryError(entry=entry, error=exc))
    return results


def _unique_dirname(name: str, used: set[str]) -> str:
    # Entry names come from the index: never let one climb out of workdir or clash with another.
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "module"
    candidate, number = base, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{base}-{number}"
    used.add(candidate.lower())
    return candidate


@contextmanager
def open_index(index: str | Path, *, timeout: float = 60) -> Iterator[tuple[Path, str | None]]:
    """The index file to read and the URL its relative entries resolve against.

    ``index``: an index file, a directory holding one (a catalog checkout), or the URL of a
    catalog repository (shallow-cloned into a temporary directory for the duration).
    """
    text = str(index)
    if is_git_url(text):
        with tempfile.TemporaryDirectory(prefix="modelport-index-") as workdir:
            checkout = fetch_repository(text, Path(workdir) / "catalog", timeout=timeout)
            yield _index_file(checkout), redact_url(text)
        return
    path = Path(index)
    if path.is_dir():
        yield _index_file(path), _origin_of(path)
        return
    yield path, _origin_of(path.parent) if path.parent.is_dir() else None


def _index_file(directory: Path) -> Path:
    for name in INDEX_FILENAMES:
        if (directory / name).is_file():
            return directory / name
    raise NotFound(f"no index ({', '.join(INDEX_FILENAMES)}) in {directory}")


def _origin_of(directory: Path) -> str:
    """The catalog repository's URL: its ``origin`` remote, else the directory itself."""
    return git_output(directory, "config", "--get", "remote.origin.url") or str(directory.resolve())


def resolve_url(url: str, base: str | None) -> str:
    """A submodule URL made absolute as git makes it: ``../x`` and ``./x`` against ``base``."""
    if not url.startswith(("./", "../")) or base is None:
        return url
    base = base.rstrip("/")
    rest = url
    while True:
        if rest.startswith("./"):
            rest = rest[2:]
        elif rest.startswith("../"):
            rest = rest[3:]
            base = _parent(base)
        else:
            break
    return f"{base}/{rest}" if rest else base


def _parent(url: str) -> str:
    """The URL one level up: ``https://host/org/catalog`` -> ``https://host/org``."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.rsplit('/', 1)[0]}" if "/" in rest else url
    if "/" in url:
        return url.rsplit("/", 1)[0]
    host, colon, _ = url.rpartition(":")
    return host + colon if colon else url
