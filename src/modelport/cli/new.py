"""``modelport new NAME``: scaffold a module project (model, metadata, tests, Docker, CI).

Exit codes: 0 written; 2 an invalid name or license, or a non-empty destination.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import cli_errors


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("new")(new)


def new(
    name: Annotated[str, typer.Argument(help="The module's name, e.g. plant-classifier.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory to create [default: ./NAME].")
    ] = None,
    summary: Annotated[str, typer.Option(help="One line saying what the model does.")] = "",
    author: Annotated[str, typer.Option(help="Author (or authors).")] = "",
    license: Annotated[str, typer.Option(help="SPDX license expression.")] = "Apache-2.0",
    repo_url: Annotated[str, typer.Option(help="Where the source code will live.")] = "",
    modelport: Annotated[
        str, typer.Option(help="The modelport requirement the module declares.")
    ] = "modelport",
) -> None:
    """Create a module project: a typed model with predict and train, metadata, tests, CI."""
    from modelport.scaffold import ProjectOptions, render_project

    dest = output or Path(name)
    with cli_errors():
        written = render_project(
            ProjectOptions(name, summary, author, license, repo_url, modelport), dest
        )
    typer.echo(f"created {dest} ({len(written)} files). Next:", err=True)
    typer.echo(f'  cd {dest} && pip install -e ".[test]" && pytest && modelport check .', err=True)
