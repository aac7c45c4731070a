"""``modelport data put|ls|get|rm --url URL``: your data area on a modelport platform.

Files uploaded here are what trainings name as ``data://<name>`` (``modelport jobs submit
image-classifier -a data=data://digits.zip``). Uploads go in chunks and resume where an
interrupted one stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import USAGE, fail
from modelport.cli.target import DEFAULT_URL, Token, Url, remote

app = typer.Typer(
    help="Your data on a modelport platform (files to train on, as data://NAME).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the command group to ``root``."""
    root.add_typer(app, name="data")


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="The file to upload.", show_default=False)],
    name: Annotated[
        str | None, typer.Argument(help="Its name in your data [default: the file's name].")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Upload FILE to your data (resumable); prints the data:// reference to train on."""
    if not file.is_file():
        fail(f"no such file: {file}", USAGE)
    total = file.stat().st_size
    typer.echo(f"uploading {file} ({_size(total)}) to your data on {url}", err=True)

    def show(sent: int, whole: int) -> None:
        typer.echo(f"  {sent * 100 // max(whole, 1)}%  {_size(sent)} of {_size(whole)}", err=True)

    with remote(url, token) as client:
        answer = client.put_data(file, name, progress=show)
    typer.echo(f"data://{answer['name']}")


@app.command("ls")
def ls(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """List your data: name, size, last change; then the space used."""
    with remote(url, token) as client:
        found = client.data()
    typer.echo(f"your data on {url}", err=True)
    for entry in found["files"]:
        typer.echo(f"{entry['name']}\t{_size(entry['size'])}\t{entry['modified']}")
    quota = found.get("quota")
    limit = f" of {_size(quota)}" if quota is not None else ""
    typer.echo(f"{len(found['files'])} files, {_size(found['used'])}{limit} used", err=True)


@app.command("get")
def get(
    name: Annotated[str, typer.Argument(help="The file's name in your data.")],
    dest: Annotated[Path, typer.Argument(help="A file or a directory.")] = Path(),
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Download one of your files."""
    with remote(url, token) as client:
        written = client.get_data(name, dest)
    typer.echo(str(written))


@app.command("rm")
def rm(
    name: Annotated[str, typer.Argument(help="The file's name in your data.")],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Delete one of your files."""
    with remote(url, token) as client:
        client.delete_data(name)
    typer.echo(f"deleted data://{name}", err=True)
