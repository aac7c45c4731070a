"""``modelport up``: the whole platform in one process.

The Open Catalog, the training facility (jobs API), on-demand serving of every catalog module
(each in its own worker process, loaded on first call, unloaded when idle), sign-in and the web
dashboard. Defaults: SQLite and artifacts in the data directory, the local executor, auth off
(single-user, loopback only). Everything is configurable by ``MODELPORT_*`` variables and a
YAML config file (``--config`` or ``$MODELPORT_CONFIG``; flags > environment > file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.serve import AllowInsecureBind, Debug, Host, Port, configure_logging
from modelport.settings import Settings, load_settings


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("up")(up)


def _settings(config: Path | None, **given: Any) -> Settings:
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        return load_settings(config, **overrides)
    except ValueError as exc:
        fail(f"invalid configuration: {exc}", USAGE)


def up(
    config: Annotated[
        Path | None,
        typer.Option(help="YAML config file (any setting; flags and MODELPORT_* env win)."),
    ] = None,
    host: Host = None,
    port: Port = None,
    base_path: Annotated[str | None, typer.Option(help="URL prefix behind a proxy.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Database, artifacts, catalog. [default: XDG data dir]")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (PostgreSQL). [default: SQLite]")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="Training executor: local or ray. [default: local]")
    ] = None,
    auth: Annotated[
        str | None, typer.Option(help="off (single-user, loopback) or oidc. [default: off]")
    ] = None,
    max_loaded_models: Annotated[
        int | None, typer.Option(help="Catalog models loaded at once (LRU). [default: 8]")
    ] = None,
    model_idle_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds before an unused model is unloaded; 0 = never. [default: 300]"),
    ] = None,
    serving_backend: Annotated[
        str | None,
        typer.Option(help="process (a worker per model) or ray (Ray Serve). [default: process]"),
    ] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(
            help="Confine module code: bwrap, none (unconfined), or auto (bwrap when "
            "bubblewrap is installed, else none with a warning). [default: auto]"
        ),
    ] = None,
    seed: Annotated[
        bool,
        typer.Option(
            "--seed/--no-seed",
            help="Publish the bundled examples the catalog lacks (by name; never over a module).",
        ),
    ] = True,
    allow_insecure_bind: AllowInsecureBind = None,
    debug: Debug = None,
) -> None:
    """Run the platform: catalog, training, on-demand model serving, sign-in, dashboard."""
    settings = _settings(
        config,
        host=host,
        port=port,
        base_path=base_path,
        data_dir=data_dir,
        database_url=database_url,
        executor=executor,
        auth=auth,
        max_loaded_models=max_loaded_models,
        model_idle_timeout=model_idle_timeout,
        serving_backend=serving_backend,
        sandbox=sandbox,
        allow_insecure_bind=allow_insecure_bind,
        debug=debug,
    )
    configure_logging(settings)
    with cli_errors(settings.debug):
        run_platform(settings, seed=seed)


def run_platform(settings: Settings, *, seed: bool = True) -> None:
    """Build the platform's services from ``settings`` and serve them with uvicorn."""
    from modelport.cli.serve import base_url, check_bind, listen, run_uvicorn

    check_bind(settings)
    sock = listen(settings)  # a busy port is said before anything else happens

    from modelport.apps.platform import assemble_platform

    try:
        app, examples = assemble_platform(settings, seed=seed)
    except BaseException:
        sock.close()
        raise
    url = base_url(settings, sock)
    for line in examples.lines():
        typer.echo(line, err=True)
    typer.echo(f"modelport platform on {url}", err=True)
    typer.echo(
        f"  dashboard: {url}/dashboard   API documentation: {url}/api   "
        f"catalog: {url}/catalog/modules   models: {url}/v2/models/",
        err=True,
    )
    if settings.auth == "off":
        typer.echo("  auth: off (single-user mode: every caller is the local admin)", err=True)
    run_uvicorn(app, settings, sock)
