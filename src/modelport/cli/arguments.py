"""CLI options generated from a model's argument signature, and their values as raw arguments.

Values stay strings: the model's own validation checks them, with the same messages as the
HTTP API, reporting every bad argument at once.
"""

from __future__ import annotations

import json
import mimetypes
import shutil
from pathlib import Path
from typing import Any

import click
import typer

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


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _range(prop: dict[str, Any], low: str, high: str, what: str) -> str:
    """``0<=x<=20``, ``x>0``, ``length<=100``: the bounds of ``what``, as click shows ranges."""
    lo, hi = prop.get(low), prop.get(high)
    xlo, xhi = prop.get(f"exclusive{low.capitalize()}"), prop.get(f"exclusive{high.capitalize()}")
    lower = f"{_number(xlo)}<" if xlo is not None else f"{_number(lo)}<=" if lo is not None else ""
    upper = f"<{_number(xhi)}" if xhi is not None else f"<={_number(hi)}" if hi is not None else ""
    if lower and not upper:  # x>=0 reads better than 0<=x
        return f"{what}>{_number(xlo)}" if xlo is not None else f"{what}>={_number(lo)}"
    return f"{lower}{what}{upper}" if upper else ""


def _flat(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop`` with the constraints of its non-null ``anyOf`` branch (``Optional[...]``)."""
    branches = [b for b in prop.get("anyOf", []) if isinstance(b, dict) and b.get("type") != "null"]
    if len(branches) != 1:
        return prop
    return {**branches[0], **{k: v for k, v in prop.items() if k != "anyOf"}}


def _items(prop: dict[str, Any]) -> dict[str, Any]:
    items = prop.get("items")
    return items if isinstance(items, dict) else {}


def describe(prop: dict[str, Any], *, required: bool, flag: str = "") -> str:
    """An option's help: description, choices, bounds, an example, default, required."""
    prop = _flat(prop)
    items = _items(prop)
    parts = [str(prop.get("description") or prop.get("title") or "").strip()]
    choices = prop.get("enum") or items.get("enum")
    if choices:
        parts.append(f"One of: {', '.join(map(str, choices))}.")
    if prop.get("type") == "array":
        parts.append("Repeatable.")
    bounds = [
        _range(prop, "minimum", "maximum", "x"),
        _range(prop, "minLength", "maxLength", "length"),
        _range(prop, "minItems", "maxItems", "items"),
        _range(items, "minimum", "maximum", "each"),
    ]
    parts += [f"[{bound}]" for bound in bounds if bound]
    if prop.get("pattern"):
        parts.append(f"[matching {prop['pattern']}]")
    examples = prop.get("examples")
    if isinstance(examples, list) and examples and prop.get("default") is None and not required:
        parts.append(f"(e.g. {examples[0]})")
    default = prop.get("default")
    if default is not None:
        if isinstance(default, bool) and flag:
            parts.append(f"[default: --{'' if default else 'no-'}{flag}]")
        else:
            shown = json.dumps(default) if isinstance(default, (list, dict)) else default
            parts.append(f"[default: {shown}]")
    if required:
        parts.append("[required]")
    return " ".join(p for p in parts if p)


def _metavar(prop: dict[str, Any]) -> str:
    prop = _flat(prop)
    items = _items(prop)
    choices = prop.get("enum") or items.get("enum")
    if choices and len(choices) <= 6:
        return f"[{'|'.join(map(str, choices))}]"
    kind = items.get("type") if prop.get("type") == "array" else prop.get("type")
    return str(kind or "value").upper()


def argument_command(
    name: str, sig: Signature, metadata: dict[str, Any], epilog: str | None = None
) -> click.Command:
    """A click command whose options are a model's arguments (``sig``), showing each one's
    description, choices, bounds, default and whether it is required."""
    required = set(sig.required)
    files = set(sig.files())
    params: list[click.Parameter] = []
    for arg, prop in sig.properties.items():
        # Required-ness and types are checked by the model's own validation, which reports
        # every bad argument at once, with the same messages as the HTTP API.
        if _flat(prop).get("type") == "boolean":
            help_text = describe(prop, required=arg in required, flag=arg)
            params.append(click.Option([f"--{arg}/--no-{arg}"], default=None, help=help_text))
            continue
        kind: click.ParamType[Any] = click.STRING
        metavar = _metavar(prop)
        if arg in files:
            kind, metavar = click.Path(exists=True, dir_okay=False), "PATH"
        params.append(
            click.Option(
                _option_names(arg),
                type=kind,
                multiple=_flat(prop).get("type") == "array",
                help=describe(prop, required=arg in required),
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
    return click.Command(name, params=params, help=metadata.get("description"), epilog=epilog)


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


def model_or_help(ctx: typer.Context, model: str | None) -> str:
    """The model named; with none (``modelport predict --help``), the command's own help.

    The commands pass unknown options on to the model's generated ones, so ``--help`` before a
    model name arrives here as the name.
    """
    if model is not None and model not in ("--help", "-h"):
        return model
    from modelport.contract import discovery

    typer.echo(ctx.get_help())
    names = ", ".join(ref.name for ref in discovery.discover()) or "none"
    typer.echo(
        f"Installed models: {names}. `modelport {ctx.info_name} MODEL --help` lists its options."
    )
    raise typer.Exit(0 if model else USAGE)


def parse_options(command: click.Command, prog: str, args: list[str]) -> dict[str, Any] | None:
    """The option values given in ``args``; None when ``--help`` was shown instead."""
    try:
        with command.make_context(prog, list(args)) as sub:
            return dict(sub.params)
    except click.exceptions.Exit:
        return None
    except click.ClickException as exc:
        fail(exc.format_message(), USAGE)
