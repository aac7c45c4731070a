"""The quality gate over one module project: every check, in order, into one report."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelport.catalog.sources import EntryPoint
from modelport.errors import NotFound
from modelport.quality import linters, project, smoke
from modelport.quality.report import CheckResult, Report, Status


@dataclass(frozen=True)
class CheckOptions:
    """What to run: the smoke training and the linters can be left out."""

    train: bool = True
    lint: bool = True
    train_timeout: float = smoke.TRAIN_TIMEOUT


def run_checks(path: Path, options: CheckOptions | None = None) -> Report:
    """Check the module project at ``path``; NotFound when it is not a project directory.

    Runs the project's code (import, warm, predict, one training step) in this process and in
    one worker process, as its own tests would.
    """
    options = options or CheckOptions()
    if not path.is_dir():
        raise NotFound(f"not a module project directory: {path}")
    if not any((path / f).is_file() for f in ("pyproject.toml", "setup.cfg", "setup.py")):
        raise NotFound(f"no pyproject.toml (or setup.cfg) in {path}: not a module project")
    report = Report(path.resolve())
    metadata_result, metadata = project.check_metadata(path)
    report.add(metadata_result)
    report.add(project.check_license(path, metadata))
    project_result, module = project.check_project(path, metadata is not None)
    report.add(project_result)
    _run_contract(report, path, project.entry_points_of(path, module), options)
    if options.lint:
        report.add(linters.check_ruff(path))
        report.add(linters.check_bandit(path))
    return report


def _run_contract(
    report: Report, path: Path, points: tuple[EntryPoint, ...], options: CheckOptions
) -> None:
    if not points:
        report.add(CheckResult("contract", Status.SKIPPED, "no entry point to load"))
        return
    with project.project_on_path(path), tempfile.TemporaryDirectory(prefix="mp-check-") as tmp:
        for index, point in enumerate(points):
            result, served = project.check_entry_point(point)
            report.add(result)
            if served is None:
                continue
            workdir = Path(tmp) / str(index)
            (workdir / "predict").mkdir(parents=True)
            results = [
                smoke.check_metadata_call(served),
                smoke.check_predict(served, workdir / "predict"),
            ]
            if options.train:
                results.append(smoke.check_train(served, workdir / "train", options.train_timeout))
            else:
                results.append(CheckResult("contract: train", Status.SKIPPED, "--no-train"))
            for result in results:
                report.add(_named(result, point.name, len(points)))


def _named(result: CheckResult, model: str, models: int) -> CheckResult:
    if models > 1:
        result.name = f"{result.name} ({model})"
    return result
