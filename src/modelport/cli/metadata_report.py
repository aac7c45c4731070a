"""How ``modelport catalog validate`` shows the verdicts on a file: AI4OS's, then modelport's."""

from __future__ import annotations

from typing import Any

from modelport.catalog.files import MetadataFile

VALID = 0
INVALID = 1


def exit_code(read: MetadataFile, *, strict: bool) -> int:
    """0 when AI4OS accepts the file (and, with ``strict``, modelport has no warning), else 1."""
    report = read.report
    return INVALID if report.errors or (strict and report.warnings) else VALID


def report_json(read: MetadataFile, shown_path: str, *, strict: bool) -> dict[str, Any]:
    """The verdicts as one JSON object."""
    report = read.report
    return {
        "path": shown_path,
        "valid": report.valid,
        "schema": report.schema_version or None,
        "format": read.format,
        "errors": report.errors,
        "warnings": report.warnings,
        "strict": strict,
        "passed": exit_code(read, strict=strict) == VALID,
    }


def report_text(read: MetadataFile, shown_path: str, *, strict: bool) -> str:
    """The verdicts as lines of text: AI4OS's errors first, then modelport's warnings."""
    report = read.report
    schema = f" (AI4OS schema {report.schema_version})" if report.schema_version else ""
    if report.errors:
        lines = [f"{shown_path}: invalid metadata{schema}, {len(report.errors)} fields"]
        lines += _listed(report.errors)
    else:
        lines = [f"{shown_path}: valid{schema}"]
    if report.warnings:
        count = sum(len(messages) for messages in report.warnings.values())
        kind = "errors (--strict)" if strict else "warnings"
        lines.append(f"modelport {kind}: {count}")
        lines += _listed(report.warnings)
    return "\n".join(lines) + "\n"


def _listed(messages: dict[str, list[str]]) -> list[str]:
    return [f"  {field}: {message}" for field, items in messages.items() for message in items]
