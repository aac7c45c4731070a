"""Real metadata files from public AI4OS / DEEP module repositories get AI4OS's own verdict.

``fixtures/wild/`` holds 180 files nobody on the team wrote, each with the verdict the real
``ai4-metadata`` 2.4.2 gave it under the AI4OS hub's CI rule (``fixtures/wild/README.md``).
modelport must agree on every one: valid, invalid (naming the same field), or unreadable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from modelport.catalog import read_metadata_file
from modelport.errors import InvalidInput

WILD = Path(__file__).parent / "fixtures" / "wild"
VERDICTS: dict[str, dict[str, Any]] = json.loads((WILD / "verdicts.json").read_text())["files"]


def _dotted(json_path: str, verdict: dict[str, Any]) -> str:
    """``$.tasks[1]`` → ``tasks.1``; a missing property is named where it is missing."""
    path = re.sub(r"\[(\d+)\]", r".\1", json_path).removeprefix("$").lstrip(".")
    if verdict.get("keyword") == "required":
        missing = re.match(r"'([^']+)' is a required property", verdict["error"])
        assert missing is not None
        path = f"{path}.{missing.group(1)}".lstrip(".")
    return path


def test_the_corpus_is_what_its_readme_says() -> None:
    files = sorted(p.name for p in (WILD / "files").iterdir())
    assert files == sorted(VERDICTS)
    assert len(files) == 180
    kinds = {(v["schema"], v["valid"]) for v in VERDICTS.values()}
    assert kinds == {("1.0.0", True), ("1.0.0", False), ("2.0.0", True), ("2.0.0", False)}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_same_verdict_as_ai4os(name: str) -> None:
    verdict = VERDICTS[name]
    path = WILD / "files" / name
    if verdict["format"] == "unreadable":
        with pytest.raises(InvalidInput):
            read_metadata_file(path)
        return
    read = read_metadata_file(path)
    report = read.report
    assert report.valid is verdict["valid"], (report.errors, verdict)
    if report.valid:
        assert report.schema_version == verdict["schema"]
        assert report.metadata is not None
        return
    if verdict["format"] != "empty-read-as-yaml-null":
        assert report.schema_version == verdict["schema"]
        assert _dotted(verdict["path"], verdict) in report.errors, report.errors


def test_what_the_platform_refuses_in_a_valid_file_is_said_and_left_out() -> None:
    # phyto-plankton: the hub's CI (schema 2.0.0) accepts it; PAPI's latest (2.3.0) does not.
    (name,) = [
        n
        for n, v in VERDICTS.items()
        if v.get("papi_latest", {}).get("valid") is False and v["valid"]
    ]
    report = read_metadata_file(WILD / "files" / name).report
    assert report.metadata is not None
    assert report.metadata.resources is None
    (warning,) = report.warnings["resources.training.storage_MB"]
    assert warning.startswith("'1000-50000' is not of type 'integer'")
    assert "'resources' is left out of the record" in warning


def test_image_references_and_free_text_licences_from_the_wild_pass() -> None:
    images = licences = 0
    for name, verdict in VERDICTS.items():
        if not verdict["valid"]:
            continue
        report = read_metadata_file(WILD / "files" / name).report
        assert report.metadata is not None
        image = report.metadata.links.docker_image
        if image and "://" not in image:
            images += 1
            assert not report.warnings.get("links.docker_image")
            assert (
                not report.warnings.get("sources.docker_registry_repo", [""])[0].startswith("'")
                or "whitespace" in report.warnings["sources.docker_registry_repo"][0]
            )
        if report.metadata.license == "No license file":
            licences += 1
            assert "kept as written" in report.warnings["license"][0]
    assert images > 100
    assert licences >= 1
