"""Reading and writing metadata files: ai4-metadata.yml/.yaml/.json and DEEP v1 metadata.json.

The format follows the file name: ``.json`` is JSON, anything else YAML. A v1 file (see
:func:`~modelport.catalog.migrate_v1.is_v1_metadata`) is migrated to v2 on load. A file that does
not parse raises ``InvalidInput({filename: ["invalid YAML at line L, column C: ..."]})``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped, unused-ignore]

from modelport.catalog.metadata import ModuleMetadata, validate_metadata
from modelport.catalog.migrate_v1 import is_v1_metadata, migrate_v1
from modelport.errors import InvalidInput, NotFound

#: The names looked for, in this order, when a module directory is given.
METADATA_FILENAMES: Final = (
    "ai4-metadata.yml",
    "ai4-metadata.yaml",
    "ai4-metadata.json",
    "metadata.json",
)


def load_metadata(path: Path) -> ModuleMetadata:
    """Read a metadata file (or the one in a module directory), migrating DEEP v1 files."""
    if path.is_dir():
        path = find_metadata_file(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"metadata file not found: {path}") from None
    except OSError as exc:
        raise InvalidInput({str(path): [f"cannot read the file: {exc.strerror}"]}) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput({str(path): [f"not UTF-8 text (byte {exc.start})"]}) from None
    return parse_metadata(text, str(path))


def find_metadata_file(directory: Path) -> Path:
    """The metadata file of a module directory, by :data:`METADATA_FILENAMES` order."""
    for name in METADATA_FILENAMES:
        if (directory / name).is_file():
            return directory / name
    raise NotFound(f"no metadata file ({', '.join(METADATA_FILENAMES)}) in {directory}")


def parse_metadata(text: str, filename: str) -> ModuleMetadata:
    """Parse metadata text; ``filename`` picks the format and names the file in errors."""
    data = _decode(text, filename)
    if data is None:
        raise InvalidInput({filename: ["the file is empty; expected a mapping of metadata fields"]})
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InvalidInput({filename: [f"expected a mapping of metadata fields, found a {kind}"]})
    if is_v1_metadata(data):
        return migrate_v1(data)
    return validate_metadata(data)


def dump_metadata(metadata: ModuleMetadata, filename: str = "ai4-metadata.yml") -> str:
    """Serialise metadata as YAML or JSON (chosen by ``filename``), omitting unset fields."""
    data = metadata.model_dump(mode="json", by_alias=True, exclude_none=True)
    if _is_json(filename):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def _is_json(filename: str) -> bool:
    return filename.lower().endswith(".json")


def _decode(text: str, filename: str) -> Any:
    if _is_json(filename):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise InvalidInput({filename: [f"invalid JSON at {where}: {exc.msg}"]}) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise InvalidInput({filename: [_yaml_message(exc)]}) from None
    except yaml.YAMLError as exc:
        raise InvalidInput({filename: [f"invalid YAML: {exc}"]}) from None


def _yaml_message(exc: Any) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = exc.problem or "syntax error"
    context = ""
    if exc.context:
        start = exc.context_mark
        started = f" started at line {start.line + 1}, column {start.column + 1}" if start else ""
        context = f" ({exc.context}{started})"
    return f"invalid YAML{where}: {problem}{context}"


def _represent_str(dumper: Any, value: str) -> Any:
    # Multi-line descriptions read best as literal blocks, as module authors write them.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


# A SafeDumper of our own, so the str representer does not change PyYAML's global SafeDumper.
_BlockDumper: Any = type("_BlockDumper", (yaml.SafeDumper,), {})
_BlockDumper.add_representer(str, _represent_str)
