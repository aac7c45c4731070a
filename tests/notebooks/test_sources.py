"""A module's source in a notebook home: copied from the project an editable install came from,
never over a checkout already there (the builder's edits), nothing when there is no source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from modelport.catalog.domain import VersionRecord
from modelport.catalog.git import GitPolicy
from modelport.notebooks.sources import checkout_module


def record(module: str, package: str | None, source_url: str | None = None) -> VersionRecord:
    return VersionRecord(
        module=module,
        version="1.0.0",
        metadata={},
        package=package,
        source_url=source_url,
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_an_editable_pilot_is_copied_without_caches_and_kept_afterwards(tmp_path: Path) -> None:
    checkout, said = checkout_module(
        record("tiny-detector", "tiny-detector"), tmp_path, GitPolicy()
    )
    assert checkout == tmp_path / "tiny-detector"
    assert said == "copied tiny-detector's project into ~/tiny-detector"
    assert (checkout / "src" / "tiny_detector" / "model.py").is_file()
    assert not list(checkout.rglob("__pycache__"))

    edited = checkout / "src" / "tiny_detector" / "model.py"
    edited.write_text("# my edit\n")
    again, said = checkout_module(record("tiny-detector", "tiny-detector"), tmp_path, GitPolicy())
    assert again == checkout
    assert said == "kept your checkout of tiny-detector in ~/tiny-detector"
    assert edited.read_text() == "# my edit\n"


def test_without_a_source_the_installed_package_is_used(tmp_path: Path) -> None:
    # installed, but not editable (a wheel): nothing to copy
    checkout, said = checkout_module(record("pyyaml", "PyYAML"), tmp_path, GitPolicy())
    assert checkout is None
    assert "no source to check out" in said
    checkout, _ = checkout_module(record("ghost", "no-such-distribution"), tmp_path, GitPolicy())
    assert checkout is None
    assert not list(tmp_path.iterdir())
