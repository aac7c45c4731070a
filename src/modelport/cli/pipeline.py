"""``modelport pipeline ...``: check, try and publish a pipeline document on a server.

A pipeline's steps are checked by the modules' own workers, so every command talks to a running
platform: ``--url`` (``$MODELPORT_URL``, default http://127.0.0.1:5000) and ``--token``
(``$MODELPORT_TOKEN``). See docs/pipelines.md for the document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.cli.exits import USAGE, fail
from modelport.cli.target import DEFAULT_URL, Token, remote

app = typer.Typer(
    help="Pipelines: modules chained into one (check, try, publish a document).",
    no_args_is_help=True,
)

Document = Annotated[
    Path, typer.Argument(help="The pipeline document (YAML or JSON).", show_default=False)
]
Url = Annotated[str, typer.Option("--url", envvar="MODELPORT_URL", help="The platform.")]


def register(parent: typer.Typer) -> None:
    """Add the group to ``modelport``."""
    parent.add_typer(app, name="pipeline")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", USAGE)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    found = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            fail(f"{option} takes NAME=VALUE, not {value!r}", USAGE)
        found[key] = rest
    return found


@app.command("check")
def check(document: Document, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Check a document against its steps' modules; print what it takes and answers."""
    text = _read(document)
    with remote(url, token) as client:
        checked = client.check_pipeline(text)
    name, version = checked["document"]["name"], checked["document"]["version"]
    inputs = checked["inputs"]
    required = set(inputs.get("required", []))
    typer.echo(f"{name} {version}: ok")
    for field in inputs.get("properties", {}):
        typer.echo(f"  input {field}{'' if field in required else ' (optional)'}")
    for step, version_now in checked["checked_against"].items():
        typer.echo(f"  step module {step} → {version_now}")


@app.command("publish")
def publish(document: Document, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Check a document, then publish it as a catalog module version."""
    text = _read(document)
    with remote(url, token) as client:
        record = client.publish_pipeline(text)
    typer.echo(f"published {record['module']} {record['version']} (a pipeline)")


@app.command("try")
def try_pipeline(
    document: Document,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="An input, NAME=VALUE (repeatable).")
    ] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="A file input, NAME=PATH (repeatable).")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Run a document on some inputs without publishing it; print its answer."""
    text = _read(document)
    inputs: dict[str, Any] = _pairs(arg, "--arg")
    files = _pairs(file, "--file")
    for name, path in files.items():
        if not Path(path).is_file():
            fail(f"--file {name}: no such file: {path}", USAGE)
    with remote(url, token) as client:
        answer = client.try_pipeline(text, inputs, files or None)
    if isinstance(answer, bytes):
        typer.echo(f"(a file of {len(answer)} bytes)")
    else:
        typer.echo(json.dumps(answer, indent=2))
