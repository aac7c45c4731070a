"""``modelport catalog yank MODULE VERSION --reason ...`` and ``unyank``: withdraw a version.

A yanked version is no longer ``latest`` and is left out of listings, but its exact number still
serves it (for reproducibility); see :mod:`modelport.catalog.registry`. Like the other
``catalog`` commands, these act on the local store (the embedded catalog of ``Settings()``),
or on a server's catalog with ``--url`` (``$MODELPORT_URL``) and ``--token``
(``$MODELPORT_TOKEN``), where only the module's owner or an admin may yank. Each says on stderr
which it acts on.

Added to ``modelport catalog`` by :func:`register`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from modelport.cli.catalog_remote import open_catalog
from modelport.cli.target import OptionalUrl, Token

Name = Annotated[str, typer.Argument(help="The module's name.", show_default=False)]
Version = Annotated[
    str, typer.Argument(help="The exact version (not an alias), e.g. 1.2.0.", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the version record as JSON.")]


def register(catalog_app: typer.Typer) -> None:
    """Add ``yank`` and ``unyank`` to the ``catalog`` command group."""
    catalog_app.command("yank")(yank)
    catalog_app.command("unyank")(unyank)


def yank(
    name: Name,
    version: Version,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why (shown with the version), e.g. 'trained on the wrong labels'.",
            show_default=False,
        ),
    ],
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Yank a version: no longer latest nor listed, still callable by its exact number."""
    with open_catalog(url, token) as catalog:
        record = catalog.yank(name, version, reason, yanked_by=_user())
    _print(record.model_dump(mode="json"), as_json)


def unyank(
    name: Name,
    version: Version,
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Undo a yank: the version is listed again (and latest again if it is the highest)."""
    with open_catalog(url, token) as catalog:
        record = catalog.unyank(name, version)
    _print(record.model_dump(mode="json"), as_json)


def _print(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    label = f"{doc['module']} {doc['version']}"
    if doc.get("yanked"):
        typer.echo(f"{label}: yanked ({doc.get('yanked_reason')})")
        path = f"/v2/models/{doc['module']}/versions/{doc['version']}/predict/"
        typer.echo(f"no longer latest nor listed; still callable by its exact version: {path}")
    else:
        typer.echo(f"{label}: not yanked (listed again)")


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return None
