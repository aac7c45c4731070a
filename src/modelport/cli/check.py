"""``modelport check [PATH]``: the quality gate a module's CI and the catalog's publish step run.

Checks: the metadata validates, an SPDX license is declared (and a license file present), the
project declares a model entry point that loads, the model answers its metadata, predicts with
example arguments generated from its schema, and trains one tiny step as a real job (when it
has train()); ruff and bandit findings (when installed: ``modelport[check]``).

Exit codes: 0 every check passed (warnings allowed, unless ``--strict``); 1 a check failed
(or, with ``--strict``, warned); 2 usage error or not a readable project directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import cli_errors

#: Exit code when a check failed (or warned, with ``--strict``).
CHECK_FAILED = 1

_STYLE = {
    "passed": ("PASS", typer.colors.GREEN),
    "warning": ("WARN", typer.colors.YELLOW),
    "failed": ("FAIL", typer.colors.RED),
    "skipped": ("SKIP", typer.colors.BRIGHT_BLACK),
}


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("check")(check)


def check(
    path: Annotated[Path, typer.Argument(help="The module project directory.")] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
    train: Annotated[
        bool, typer.Option("--train/--no-train", help="Run one tiny training step.")
    ] = True,
    lint: Annotated[bool, typer.Option("--lint/--no-lint", help="Run ruff and bandit.")] = True,
    train_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds the training step may take.")
    ] = 300.0,
) -> None:
    """Check a module project: metadata, license, entry point, predict/train smoke test, lint.

    Exit codes: 0 passed, 1 a check failed (warnings too with --strict), 2 unreadable project.
    """
    from modelport.quality import CheckOptions, run_checks

    with cli_errors():
        report = run_checks(path, CheckOptions(train=train, lint=lint, train_timeout=train_timeout))
    if as_json:
        typer.echo(json.dumps(report.to_dict(strict), indent=2, default=str))
    else:
        for result in report.results:
            label, color = _STYLE[result.status.value]
            typer.echo(
                typer.style(f"{label:5}", fg=color, bold=True) + f"{result.name}: ", nl=False
            )
            typer.echo(result.summary)
            for line in result.details:
                typer.echo(f"       {line}")
        counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
        verdict = "FAILED" if report.failed(strict) else "passed"
        typer.echo(f"\n{report.path}: {verdict} ({counts})")
    if report.failed(strict):
        raise typer.Exit(CHECK_FAILED)
