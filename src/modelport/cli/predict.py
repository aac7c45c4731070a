"""``modelport predict MODEL --ARG value ...``: run a model without a server (batch, HPC).

The options are generated from the model's arguments; values go through the same validation as
the HTTP API, files are given as paths (copied to a private temp dir, as uploads are), warm()
runs first, and the result goes to stdout as JSON (or raw bytes with ``--output FILE``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.arguments import (
    MODEL_COMMAND,
    argument_command,
    model_or_help,
    parse_options,
    raw_args,
)
from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.names import load_model
from modelport.contract.base import JSON_MEDIA_TYPE
from modelport.runtime.runner import warm_model

PREDICT_EPILOG = (
    "Options of modelport predict itself: --output/-o FILE (write the result there), "
    "--no-warm (skip warm()), --debug (print the model's traceback)."
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("predict", **MODEL_COMMAND)(predict)


def predict(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Argument(
            help="Entry-point name or import path.", metavar="MODEL", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result to this file.")
    ] = None,
    warm: Annotated[bool, typer.Option("--warm/--no-warm", help="Call warm() first.")] = True,
    debug: Annotated[bool, typer.Option("--debug", help="Print the model's traceback.")] = False,
) -> None:
    """Run MODEL's predict once, no server. `modelport predict MODEL --help` lists its options."""
    import tempfile

    model = model_or_help(ctx, model)
    with cli_errors(debug):
        served = load_model(model)
        command = argument_command(
            served.name, served.predict_signature, served.metadata(), epilog=PREDICT_EPILOG
        )
        values = parse_options(command, f"modelport predict {model}", ctx.args)
        if values is None:
            return
        with tempfile.TemporaryDirectory(prefix="modelport-predict-") as workdir:
            kwargs = served.prepare(raw_args(served.predict_signature, values, Path(workdir)))
            if warm:
                warm_model(served)
            result = served.predict(kwargs)
    _emit(result.content, result.media_type, output)


def _emit(content: bytes, media_type: str, output: Path | None) -> None:
    if output is not None:
        output.write_bytes(content)
        typer.echo(f"wrote {len(content)} bytes ({media_type}) to {output}", err=True)
        return
    if not media_type.startswith((JSON_MEDIA_TYPE, "text/")) and sys.stdout.isatty():
        fail(f"the result is {media_type}; write it with --output FILE", USAGE)
    sys.stdout.buffer.write(content)
    if media_type.startswith((JSON_MEDIA_TYPE, "text/")) and not content.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
