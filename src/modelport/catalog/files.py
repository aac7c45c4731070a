"""Reading and writing metadata files: ai4-metadata.yml/.yaml/.json and DEEP v1 metadata.json.

Files are read as the AI4OS loader reads them, whatever their name: as JSON, else as YAML. A file
whose name says JSON but which only YAML reads (trailing commas, YAML content in ``metadata.json``)
is accepted with a warning naming its real format. What is read is judged by
:func:`~modelport.catalog.metadata.check_metadata` (AI4OS's schema, then modelport's warnings;
a v1 file is migrated to v2). A file that neither parses raises
``InvalidInput({filename: ["invalid JSON at line L, column C: ..."]})`` (or the YAML error for a
YAML file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

import yaml  # type: ignore[import-untyped, unused-ignore]

from modelport.catalog.metadata import MetadataReport, ModuleMetadata, check_metadata
from modelport.errors import InvalidInput, NotFound

#: The names looked for, in this order, when a module directory is given.
METADATA_FILENAMES: Final = (
    "ai4-metadata.yml",
    "ai4-metadata.yaml",
    "ai4-metadata.json",
    "metadata.json",
)


@dataclass(frozen=True)
class MetadataFile:
    """A metadata file as read: its path, real format and the verdicts on its content."""

    path: Path
    format: Literal["json", "yaml"]
    report: MetadataReport


def load_metadata(path: Path) -> ModuleMetadata:
    """Read a metadata file (or the one in a module directory); InvalidInput if AI4OS refuses it."""
    report = read_metadata_file(path).report
    if report.metadata is None:
        raise InvalidInput(report.errors)
    return report.metadata


def read_metadata_file(path: Path) -> MetadataFile:
    """Read and judge a metadata file (or the one in a module directory), keeping every warning.

    NotFound when there is no such file; InvalidInput when it cannot be read or parsed at all.
    """
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
    data, fmt, notes = _decode(text, str(path))
    report = check_metadata(data) if isinstance(data, dict) else _not_a_mapping(data, str(path))
    if notes:
        report = replace(report, warnings={str(path): notes, **report.warnings})
    return MetadataFile(path, fmt, report)


def find_metadata_file(directory: Path) -> Path:
    """The metadata file of a module directory, by :data:`METADATA_FILENAMES` order."""
    for name in METADATA_FILENAMES:
        if (directory / name).is_file():
            return directory / name
    raise NotFound(f"no metadata file ({', '.join(METADATA_FILENAMES)}) in {directory}")


def parse_metadata(text: str, filename: str) -> ModuleMetadata:
    """Parse and validate metadata text; ``filename`` names the file in errors."""
    data, _, _ = _decode(text, filename)
    report = check_metadata(data) if isinstance(data, dict) else _not_a_mapping(data, filename)
    if report.metadata is None:
        raise InvalidInput(report.errors)
    return report.metadata


def _not_a_mapping(data: Any, filename: str) -> MetadataReport:
    if data is None:
        message = "the file is empty; expected a mapping of metadata fields"
    else:
        message = f"expected a mapping of metadata fields, found a {type(data).__name__}"
    return MetadataReport("", {filename: [message]})


def dump_metadata(metadata: ModuleMetadata, filename: str = "ai4-metadata.yml") -> str:
    """Serialise metadata as YAML or JSON (chosen by ``filename``), omitting unset fields."""
    data = metadata.model_dump(mode="json", by_alias=True, exclude_none=True)
    if _is_json(filename):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def _is_json(filename: str) -> bool:
    return filename.lower().endswith(".json")


def _decode(text: str, filename: str) -> tuple[Any, Literal["json", "yaml"], list[str]]:
    """Parse as the AI4OS loader does (JSON, then YAML): the data, its format, notes on it."""
    try:
        return json.loads(text), "json", []
    except json.JSONDecodeError as exc:
        json_error = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        message = json_error if _is_json(filename) else _yaml_message(exc)
        raise InvalidInput({filename: [message]}) from None
    except yaml.YAMLError as exc:
        message = json_error if _is_json(filename) else f"invalid YAML: {exc}"
        raise InvalidInput({filename: [message]}) from None
    notes = []
    if _is_json(filename):
        notes.append(
            f"the file is named .json but is not JSON ({json_error}); "
            "it was read as YAML, as AI4OS reads it"
        )
    return data, "yaml", notes


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
