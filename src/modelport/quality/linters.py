"""ruff and bandit over a module project, as subprocesses, their findings summarised.

Each runs only when installed (``pip install 'modelport[check]'``); otherwise its check is
reported as skipped and does not fail the gate. ruff findings are warnings; bandit findings are
warnings, except high-severity ones, which fail.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess  # nosec B404 - fixed argument lists, no shell
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Final

from modelport.quality.report import CheckResult, Status

LINT_TIMEOUT: Final = 300.0
#: Paths bandit does not scan: tests (asserts are how tests speak) and environments.
BANDIT_EXCLUDES: Final = ("tests", ".venv", "venv", ".tox", "build", "dist", ".git")
_SHOWN = 20


def tool_command(name: str) -> list[str] | None:
    """How to run a linter: this interpreter's module if installed, else the PATH's executable."""
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    found = shutil.which(name)
    return [found] if found else None


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # nosec B603 - our own fixed command line
        command, cwd=cwd, capture_output=True, text=True, timeout=LINT_TIMEOUT, check=False
    )


def check_ruff(path: Path) -> CheckResult:
    """``ruff check`` with the project's own configuration (ruff's defaults without one)."""
    name = "lint: ruff"
    command = tool_command("ruff")
    if command is None:
        return CheckResult(name, Status.SKIPPED, "skipped: not installed (modelport[check])")
    try:
        done = _run([*command, "check", "--output-format", "json", "--exit-zero", "."], path)
        findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return CheckResult(name, Status.FAILED, f"ruff did not run: {exc}")
    if done.returncode != 0:
        return CheckResult(name, Status.FAILED, f"ruff failed: {done.stderr.strip()[-500:]}")
    if not findings:
        return CheckResult(name, Status.PASSED, "no findings")
    codes = Counter(str(f.get("code")) for f in findings)
    details = [
        f"{_relative(f.get('filename'), path)}:{f['location']['row']}: {f.get('code')} "
        f"{f.get('message')}"
        for f in findings[:_SHOWN]
    ]
    summary = f"{len(findings)} finding(s): " + ", ".join(f"{c} x{n}" for c, n in codes.items())
    return CheckResult(name, Status.WARNING, summary, details, {"codes": dict(codes)})


def check_bandit(path: Path) -> CheckResult:
    """``bandit -r`` over the project's code (tests and environments excluded)."""
    name = "security: bandit"
    command = tool_command("bandit")
    if command is None:
        return CheckResult(name, Status.SKIPPED, "skipped: not installed (modelport[check])")
    excludes = ",".join(f"*/{name}/*" for name in BANDIT_EXCLUDES)
    try:
        done = _run([*command, "-r", ".", "-f", "json", "-q", "-x", excludes], path)
        report: dict[str, Any] = json.loads(done.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return CheckResult(name, Status.FAILED, f"bandit did not run: {exc}")
    if done.returncode not in (0, 1) or report.get("errors"):
        why = report.get("errors") or done.stderr.strip()[-500:]
        return CheckResult(name, Status.FAILED, f"bandit failed: {why}")
    findings: list[dict[str, Any]] = report.get("results", [])
    if not findings:
        return CheckResult(name, Status.PASSED, "no findings")
    severity = Counter(str(f.get("issue_severity")) for f in findings)
    details = [
        f"{_relative(f.get('filename'), path)}:{f.get('line_number')}: {f.get('test_id')} "
        f"[{f.get('issue_severity')}] {f.get('issue_text')}"
        for f in findings[:_SHOWN]
    ]
    summary = f"{len(findings)} finding(s): " + ", ".join(f"{s} x{n}" for s, n in severity.items())
    status = Status.FAILED if severity.get("HIGH") else Status.WARNING
    return CheckResult(name, status, summary, details, {"severity": dict(severity)})


def _relative(filename: object, root: Path) -> str:
    text = str(filename)
    try:
        return str(Path(text).resolve().relative_to(root.resolve()))
    except ValueError:
        return text
