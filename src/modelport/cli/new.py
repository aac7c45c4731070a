"""``modelport new NAME``: scaffold a module project (model, metadata, tests, Docker, CI).

The name is normalised as package indexes do (``my_model`` and ``My.Model`` become ``my-model``,
said once); a name that cannot be normalised is refused with a suggestion.

Exit codes: 0 written; 2 an invalid name or license, or a non-empty destination.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.names import module_name_problem, normalise_module_name
from modelport.errors import InvalidInput


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

    problem = module_name_problem(name)
    if problem is not None:
        fail(problem, USAGE)
    normalised = normalise_module_name(name)
    if normalised != name:
        typer.echo(
            f"using the name '{normalised}' (module names are lowercase, joined by '-')", err=True
        )
    name = normalised
    dest = output or Path(name)
    with cli_errors():
        try:
            written = render_project(
                ProjectOptions(name, summary, author, license, repo_url, modelport), dest
            )
        except InvalidInput as exc:  # one plain line per bad option
            for field, messages in exc.errors.items():
                for message in messages:
                    typer.echo(f"error: --{field}: {message}", err=True)
            raise typer.Exit(USAGE) from None
    typer.echo(f"created {dest} ({len(written)} files). Next:", err=True)
    # in a uv environment (no pip of its own), plain `pip` would install somewhere else
    pip = "uv pip" if _in_uv_environment() else "pip"
    steps = f'{pip} install -e ".[test]" && pytest && modelport check .'
    typer.echo(f"  cd {dest} && {steps}", err=True)


def _in_uv_environment() -> bool:
    """Whether this interpreter's environment was made by uv (its pyvenv.cfg says so)."""
    import sys

    config = Path(sys.prefix) / "pyvenv.cfg"
    try:
        return any(line.startswith("uv =") for line in config.read_text().splitlines())
    except OSError:
        return False
