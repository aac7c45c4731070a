"""Where a command acts, said on one line of stderr: a local store (its path) or a server (its URL).

Every command that talks to a server takes ``--url`` (else ``$MODELPORT_URL``) and ``--token``
(else ``$MODELPORT_TOKEN``). ``$MODELPORT_CATALOG_URL`` is a deprecated alias of
``$MODELPORT_URL`` for the ``catalog`` commands (a warning says so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Final

import typer

from modelport.cli.exits import USAGE, fail
from modelport.errors import InvalidInput, ModelportError

if TYPE_CHECKING:
    from modelport.client import Client
    from modelport.settings import Settings

URL_ENV: Final = "MODELPORT_URL"
DEPRECATED_CATALOG_URL_ENV: Final = "MODELPORT_CATALOG_URL"
DEFAULT_URL: Final = "http://127.0.0.1:5000"

#: ``--url`` of a command that always acts on a server.
Url = Annotated[
    str,
    typer.Option("--url", envvar=URL_ENV, help="The server."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="MODELPORT_TOKEN",
        help="API or OIDC access token. [env: MODELPORT_TOKEN]",
        show_default=False,
    ),
]


def catalog_url(value: str | None) -> str | None:
    """``--url`` or ``$MODELPORT_URL``, else the deprecated ``$MODELPORT_CATALOG_URL`` (warned)."""
    old = os.environ.get(DEPRECATED_CATALOG_URL_ENV)
    if not old:
        return value
    if value is None:
        typer.echo(
            f"warning: {DEPRECATED_CATALOG_URL_ENV} is deprecated: set {URL_ENV} (or pass --url)",
            err=True,
        )
        return old
    if value != old:
        typer.echo(
            f"warning: {DEPRECATED_CATALOG_URL_ENV} is deprecated and ignored: using {value} "
            f"(--url or {URL_ENV})",
            err=True,
        )
    return value


#: ``--url`` of a command that acts on the local store unless given a server.
OptionalUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_ENV,
        callback=catalog_url,
        help="A server's instead of the local store.",
        show_default=False,
    ),
]


def say_server(url: str) -> None:
    """Say, on stderr, that the command acts on the server at ``url``."""
    typer.echo(f"server: {url}", err=True)


def store_location(settings: Settings) -> str:
    """The local store: the data directory, or the database URL (password hidden) if set."""
    if settings.database_url is None:
        return str(settings.data_dir)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database of MODELPORT_DATABASE_URL"


def say_local(what: str, settings: Settings, elsewhere: str = "") -> None:
    """Say, on stderr, that the command acts on the local ``what`` store, where it is, and how
    to act on a server instead (``elsewhere``; default: ``--url`` or ``$MODELPORT_URL``)."""
    hint = elsewhere or f"--url or {URL_ENV} for a server's"
    typer.echo(f"local {what} store: {store_location(settings)} ({hint})", err=True)


@contextmanager
def remote(url: str, token: str | None) -> Iterator[Client]:
    """A client for ``url`` (said on stderr); its errors end the command with
    ``<status>: <message>``, exit 2."""
    from modelport.api.errors import status_of
    from modelport.client import Client

    say_server(url)
    try:
        with Client(url, token=token) as client:
            yield client
    except InvalidInput as exc:
        typer.echo(json.dumps(exc.errors, indent=2), err=True)
        fail(f"422: {exc.message}", USAGE)
    except ModelportError as exc:
        status = status_of(exc) if type(exc) is not ModelportError else None
        fail(f"{status}: {exc.message}" if status else exc.message, USAGE)
