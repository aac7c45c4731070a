"""``modelport models`` and ``modelport metadata``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from modelport.cli.exits import cli_errors
from modelport.cli.names import load_model
from modelport.contract import discovery


def register(app: typer.Typer) -> None:
    """Add the commands to ``app``."""
    app.command("models")(list_models)
    app.command("metadata")(metadata)


def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the models installed through entry points (modelport.models, deepaas.v2.model)."""
    refs = discovery.discover()
    if as_json:
        rows = [
            {"name": r.name, "kind": r.kind, "target": r.target, "distribution": r.distribution}
            for r in refs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "kind", "target", "distribution", title="Installed models")
    for ref in refs:
        table.add_row(ref.name, ref.kind, ref.target, ref.distribution or "")
    console = Console()
    if refs:
        console.print(table)
    else:
        console.print(
            "No models installed. Serve one by import path: "
            "modelport serve package.module:ModelClass"
        )


def metadata(
    model: Annotated[str, typer.Argument(help="Entry-point name or import path.")],
) -> None:
    """Print a model's metadata and argument schemas as JSON."""
    with cli_errors():
        served = load_model(model)
        doc = {
            **served.metadata(),
            "kind": served.kind,
            "predict_args": served.predict_signature.schema,
            "produces": served.produces,
            "train_args": served.train_signature.schema if served.train_signature else None,
        }
    typer.echo(json.dumps(doc, indent=2, default=str))
