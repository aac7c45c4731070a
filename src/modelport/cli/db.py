"""``modelport db upgrade|status``: the platform database's schema, as an operator's step.

Replicas of ``modelport up`` sharing one database are started with ``MODELPORT_MIGRATE=wait``:
they never migrate, they wait for the schema. ``modelport db upgrade`` migrates it, once, under a
lock (running it twice at once is safe: the second finds nothing to do). ``modelport db status``
says where the schema stands and exits 1 unless it is current (a deployment script's check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import MODEL_FAILED, USAGE, cli_errors, fail
from modelport.settings import Settings, load_settings

app = typer.Typer(
    help="The platform database: migrate its schema (an operator's step), see where it stands.",
    no_args_is_help=True,
)

Config = Annotated[
    Path | None, typer.Option(help="YAML config file (MODELPORT_* env and flags win).")
]
DataDir = Annotated[
    Path | None, typer.Option(help="The data directory (its SQLite database). [default: XDG]")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL (PostgreSQL). [default: SQLite in data dir]")
]


def register(root: typer.Typer) -> None:
    """Add the command group to ``root``."""
    root.add_typer(app, name="db")


def _settings(config: Path | None, data_dir: Path | None, database_url: str | None) -> Settings:
    given = {"data_dir": data_dir, "database_url": database_url}
    try:
        return load_settings(config, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        fail(f"invalid configuration: {exc}", USAGE)


@app.command("upgrade")
def upgrade(
    config: Config = None, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Migrate the database to this modelport's newest schema (safe to run concurrently)."""
    from modelport.apps.schema import upgrade_schema

    settings = _settings(config, data_dir, database_url)
    with cli_errors(settings.debug):
        report = upgrade_schema(settings)
    if report.before.up_to_date:
        typer.echo(f"{report.database}: already at revision {report.after.current}")
    else:
        typer.echo(
            f"{report.database}: migrated from revision "
            f"{report.before.current or 'none (empty)'} to {report.after.current}"
        )


@app.command("status")
def status(
    config: Config = None, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Print the schema's revision and this modelport's; exit 1 unless they are the same."""
    from modelport.apps.schema import schema_status

    settings = _settings(config, data_dir, database_url)
    with cli_errors(settings.debug):
        report = schema_status(settings)
    state = report.after
    if state.up_to_date:
        verdict = "current"
    elif state.known:
        verdict = "behind: run `modelport db upgrade`"
    else:
        verdict = "newer than this modelport: upgrade modelport"
    typer.echo(f"database: {report.database}")
    typer.echo(f"schema revision: {state.current or 'none (empty)'}")
    typer.echo(f"this modelport's: {state.head} ({verdict})")
    if not state.up_to_date:
        raise typer.Exit(MODEL_FAILED)
