"""CLI options generated from a model's argument signature, and their values as raw arguments.

Values stay strings: the model's own validation checks them, with the same messages as the
HTTP API, reporting every bad argument at once.
"""

from __future__ import annotations

import mimetypes
import shutil
from pathlib import Path
from typing import Any

import click

from modelport.cli.exits import USAGE, fail
from modelport.contract.base import RawArgs, Signature
from modelport.contract.files import UploadedFile

#: typer settings of a command whose options come from a model: they pass through to it
MODEL_COMMAND: dict[str, Any] = {
    "context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
    "add_help_option": False,
}


def _option_names(name: str) -> list[str]:
    names = [f"--{name}"]
    if "_" in name:
        names.append(f"--{name.replace('_', '-')}")
    return names


def argument_command(name: str, sig: Signature, metadata: dict[str, Any]) -> click.Command:
    """A click command whose options are a model's arguments (``sig``)."""
    required = set(sig.required)
    files = set(sig.files())
    params: list[click.Parameter] = []
    for arg, prop in sig.properties.items():
        help_text = str(prop.get("description", ""))
        if "enum" in prop:
            help_text += f" One of: {', '.join(map(str, prop['enum']))}."
        if "default" in prop:
            help_text += f" [default: {prop['default']}]"
        if arg in required:
            help_text += " [required]"
        # Required-ness and types are checked by the model's own validation, which reports
        # every bad argument at once, with the same messages as the HTTP API.
        if prop.get("type") == "boolean":
            params.append(
                click.Option([f"--{arg}/--no-{arg}"], default=None, help=help_text.strip())
            )
            continue
        kind: click.ParamType[Any] = click.STRING
        metavar = str(prop.get("type", "value")).upper()
        if arg in files:
            kind, metavar = click.Path(exists=True, dir_okay=False), "PATH"
        params.append(
            click.Option(
                _option_names(arg),
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
                default=sig.accept_default,
                help="Media type of the result.",
            )
        )
    return click.Command(name, params=params, help=metadata.get("description"))


def raw_args(sig: Signature, values: dict[str, Any], workdir: Path) -> RawArgs:
    """Option values as raw arguments; files are copied into ``workdir`` as uploads are."""
    accept = values.pop("accept", None)
    raw = RawArgs(accept=accept if sig.accept_in == "header" else None)
    if accept is not None and sig.accept_in != "header":  # a legacy argument like any other
        raw.add("accept", accept)
    files = set(sig.files())
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


def parse_options(command: click.Command, prog: str, args: list[str]) -> dict[str, Any] | None:
    """The option values given in ``args``; None when ``--help`` was shown instead."""
    try:
        with command.make_context(prog, list(args)) as sub:
            return dict(sub.params)
    except click.exceptions.Exit:
        return None
    except click.ClickException as exc:
        fail(exc.format_message(), USAGE)
