"""What ``modelport check`` found: one result per check, and the verdict over all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Status(StrEnum):
    """The outcome of one check."""

    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class CheckResult:
    """One check: its name, outcome, a one-line summary, and details (one finding a line)."""

    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data."""
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "details": list(self.details),
            "data": dict(self.data),
        }


@dataclass
class Report:
    """Every check run on one module project."""

    path: Path
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult) -> CheckResult:
        """Record a result and return it."""
        self.results.append(result)
        return result

    def failed(self, strict: bool = False) -> bool:
        """Whether the gate fails: a failed check, or (``strict``) a warning."""
        bad = {Status.FAILED, Status.WARNING} if strict else {Status.FAILED}
        return any(r.status in bad for r in self.results)

    def counts(self) -> dict[str, int]:
        """How many results have each status."""
        return {s.value: sum(r.status is s for r in self.results) for s in Status}

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        """The report as JSON-able data, with the verdict under ``passed``."""
        return {
            "path": str(self.path),
            "passed": not self.failed(strict),
            "strict": strict,
            "counts": self.counts(),
            "checks": [r.to_dict() for r in self.results],
        }
