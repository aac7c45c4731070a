"""``modelport predict MODEL --ARG value ...``: run a model without a server (batch, HPC).

The options are generated from the model's arguments; values go through the same validation as
the HTTP API, files are given as paths (copied to a private temp dir, as uploads are), warm()
runs first, and the result goes to stdout as JSON (or raw bytes with ``--output FILE``).
"""

from __future__ import annotations

import mimetypes
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.contract import discovery
from modelport.contract.base import JSON_MEDIA_TYPE, RawArgs, ServedModel
from modelport.contract.files import UploadedFile
from modelport.runtime.runner import warm_model


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command(
        "predict",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(predict)


def _option_names(name: str) -> list[str]:
    names = [f"--{name}"]
    if "_" in name:
        names.append(f"--{name.replace('_', '-')}")
    return names


def argument_command(model: ServedModel) -> click.Command:
    """A click command whose options are the model's predict arguments."""
    sig = model.predict_signature
    required = set(sig.required)
    files = set(sig.files())
    params: list[click.Parameter] = []
    for name, prop in sig.properties.items():
        help_text = str(prop.get("description", ""))
        if "enum" in prop:
            help_text += f" One of: {', '.join(map(str, prop['enum']))}."
        if "default" in prop:
            help_text += f" [default: {prop['default']}]"
        if name in required:
            help_text += " [required]"
        # Required-ness and types are checked by the model's own validation, which reports
        # every bad argument at once, with the same messages as the HTTP API.
        if prop.get("type") == "boolean":
            params.append(
                click.Option([f"--{name}/--no-{name}"], default=None, help=help_text.strip())
            )
            continue
        kind: click.ParamType[Any] = click.STRING
        metavar = str(prop.get("type", "value")).upper()
        if name in files:
            kind, metavar = click.Path(exists=True, dir_okay=False), "PATH"
        params.append(
            click.Option(
                _option_names(name),
                type=kind,
                multiple=prop.get("type") == "array",
                help=help_text.strip(),
                metavar=metavar,
            )
        )
    if sig.accept:
        params.append(
            click.Option(
                ["--accept"],
                type=click.Choice(list(sig.accept)),
                default=sig.accept[0],
                help="Media type of the result.",
            )
        )
    return click.Command(model.name, params=params, help=model.metadata().get("description"))


def _raw_args(model: ServedModel, values: dict[str, Any], workdir: Path) -> RawArgs:
    raw = RawArgs(accept=values.pop("accept", None))
    files = set(model.predict_signature.files())
    for name, value in values.items():
        if value is None or value == ():
            continue
        for item in value if isinstance(value, tuple) else (value,):
            if name in files:
                source = Path(item)
                copy = workdir / f"{len(list(workdir.iterdir()))}-{source.name}"
                shutil.copyfile(source, copy)
                media = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
                raw.add(name, UploadedFile(name, str(copy), media, source.name))
            elif isinstance(item, bool):
                raw.add(name, "true" if item else "false")
            else:
                raw.add(name, str(item))
    return raw


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Entry-point name or import path.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result to this file.")
    ] = None,
    warm: Annotated[bool, typer.Option("--warm/--no-warm", help="Call warm() first.")] = True,
    debug: Annotated[bool, typer.Option("--debug", help="Print the model's traceback.")] = False,
) -> None:
    """Run MODEL's predict once, no server. `modelport predict MODEL --help` lists its options."""
    import tempfile

    with cli_errors(debug):
        served = discovery.load(model)
        command = argument_command(served)
        try:
            with command.make_context(f"modelport predict {model}", list(ctx.args)) as sub:
                values = dict(sub.params)
        except click.exceptions.Exit:
            return
        except click.ClickException as exc:
            fail(exc.format_message(), USAGE)
        with tempfile.TemporaryDirectory(prefix="modelport-predict-") as workdir:
            kwargs = served.prepare(_raw_args(served, values, Path(workdir)))
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
