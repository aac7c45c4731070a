"""``modelport serve``: the HTTP API for one or more models."""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
from contextlib import suppress
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.exits import LOAD_FAILED, USAGE, cli_errors, fail
from modelport.cli.names import load_model
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.jobs.facility import Facility
    from modelport.jobs.service import JobService

# Options `serve` and `up` share.
Host = Annotated[str | None, typer.Option(help="Bind address. [default: 127.0.0.1]")]
Port = Annotated[int | None, typer.Option(help="Port. [default: 5000]")]
AllowInsecureBind = Annotated[
    bool | None,
    typer.Option(
        "--allow-insecure-bind",
        help="Serve on a non-loopback address without authentication (say so explicitly).",
    ),
]
Debug = Annotated[
    bool | None, typer.Option("--debug", help="Tracebacks in 500 responses; debug logs.")
]


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("serve")(serve)


def _settings(**given: Any) -> Settings:
    """Settings from the environment, overridden by the flags actually given."""
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        return Settings(**overrides)
    except ValueError as exc:
        fail(f"invalid option: {exc}", USAGE)


def serve(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models to serve: entry-point names or import paths (package.module:Class). "
            "Default: $DEEPAAS_V2_MODEL, else every installed model.",
            show_default=False,
        ),
    ] = None,
    host: Host = None,
    port: Port = None,
    base_path: Annotated[
        str | None, typer.Option(help="URL prefix when behind a reverse proxy, e.g. /deepaas.")
    ] = None,
    max_upload_size: Annotated[
        int | None, typer.Option(help="Largest request body in bytes. [default: 100 MiB]")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Predictions running at once, per model. [default: 4]")
    ] = None,
    queue: Annotated[
        int | None, typer.Option(help="Predictions waiting for a worker, per model. [default: 64]")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds before a prediction answers 504. [default: 60]")
    ] = None,
    warm: Annotated[
        bool | None, typer.Option("--warm/--no-warm", help="Call warm() first.")
    ] = None,
    docs: Annotated[bool | None, typer.Option("--docs/--no-docs", help="Serve Swagger UI.")] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            help="off: single-user, no credentials; oidc: bearer tokens (OIDC or API tokens) "
            "required, issuers from $MODELPORT_OIDC. [default: off]",
            show_default=False,
        ),
    ] = None,
    allow_insecure_bind: AllowInsecureBind = None,
    catalog: Annotated[
        bool | None,
        typer.Option("--catalog/--no-catalog", help="Also serve the Open Catalog (/catalog/...)."),
    ] = None,
    debug: Debug = None,
) -> None:
    """Serve models over HTTP (DEEPaaS v2 API, OpenAPI at /openapi.json, Swagger UI at /api)."""
    settings = _settings(
        host=host,
        port=port,
        base_path=base_path,
        max_upload_size=max_upload_size,
        predict_concurrency=concurrency,
        predict_queue=queue,
        predict_timeout=timeout,
        warm=warm,
        docs=docs,
        debug=debug,
        catalog=catalog,
        allow_insecure_bind=allow_insecure_bind,
        auth=auth,
    )
    configure_logging(settings)
    with cli_errors(settings.debug):
        run_server(settings, models or [])


def configure_logging(settings: Settings) -> None:
    """Server logs on stderr: INFO (DEBUG with --debug); migrations quiet unless wrong."""
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse a non-loopback address without authentication, unless told explicitly; say so.

    Also refuses ``auth = oidc`` without trusted issuers.
    """
    if settings.auth != "off" and settings.oidc is None:
        fail(
            "--auth oidc needs the trusted issuers: set MODELPORT_OIDC to JSON, e.g. "
            '{"issuers": [{"issuer": "https://login.example/realms/x", "audience": "modelport"}]}',
            USAGE,
        )
    if settings.auth != "off" or is_loopback(settings.host):
        return
    if not settings.allow_insecure_bind:
        fail(
            f"refusing to serve on {settings.host} without authentication: anyone who can reach "
            "this address could run and train models. Bind 127.0.0.1, turn authentication on "
            "(--auth oidc), or pass --allow-insecure-bind (MODELPORT_ALLOW_INSECURE_BIND=1) if a "
            "proxy or the network protects it.",
            USAGE,
        )
    typer.secho(
        f"WARNING: serving on {settings.host} WITHOUT AUTHENTICATION "
        "(--allow-insecure-bind): make sure a proxy or the network protects it.",
        err=True,
        fg=typer.colors.RED,
        bold=True,
    )


def listen(settings: Settings) -> socket.socket:
    """The server's socket, bound now, before any model loads or banner prints: a busy port
    ends the command with one line naming it and how to pick another (exit 2)."""
    host = settings.host.strip("[]")
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, settings.port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {settings.port} on {settings.host} is already in use (another modelport "
                "or program listens there): stop it, or pick another port with --port N "
                "(or MODELPORT_PORT=N)",
                USAGE,
            )
        fail(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}; pick "
            "another address with --host or another port with --port",
            USAGE,
        )
    sock.set_inheritable(True)
    return sock


def base_url(settings: Settings, sock: socket.socket) -> str:
    """The URL the server answers on (the port actually bound, even for ``--port 0``)."""
    host = f"[{settings.host.strip('[]')}]" if ":" in settings.host else settings.host
    return f"http://{host}:{sock.getsockname()[1]}{settings.base_path}"


def run_server(settings: Settings, specs: list[str]) -> None:
    """Load and warm the models (refusing to start on failure), then run uvicorn."""
    check_bind(settings)
    sock = listen(settings)
    try:
        app, names = _serving_app(settings, specs)
    except BaseException:
        sock.close()
        raise
    url = base_url(settings, sock)
    typer.echo(f"modelport serving {', '.join(names)} on {url}/v2/models/", err=True)
    typer.echo(
        f"  API documentation: {url}/api   OpenAPI: {url}/openapi.json   "
        f"Swagger 2.0: {url}/swagger.json",
        err=True,
    )
    run_uvicorn(app, settings, sock)


def _serving_app(settings: Settings, specs: list[str]) -> tuple[Any, list[str]]:
    """The app serving ``specs`` (or the default models), and the names of those models."""
    from modelport.apps.model import model_app
    from modelport.contract import discovery

    specs = specs or discovery.default_specs()
    if not specs:
        fail(
            "no models found: name one, e.g. `modelport serve modelport.examples.iris`, "
            f"or install a package with a {discovery.TYPED_GROUP} or "
            f"{discovery.DEEPAAS_GROUP} entry point",
            USAGE,
        )
    models = [load_model(s) for s in specs]
    built: JobService | None = None
    jobs: JobService | Facility | None = None
    if any(model.trainable for model in models):
        from modelport.jobs.facility import Facility

        if settings.catalog:  # the dashboard reads jobs as it is built
            jobs = built = _job_service(settings)
        else:  # built once the server answers: the job store costs ~0.4 s to open
            jobs = Facility.deferred(partial(_job_service, settings))
    catalog = None
    if settings.catalog:
        from modelport.catalog.setup import build_catalog_service, seed_examples

        catalog = build_catalog_service(settings)
        seed_examples(catalog)
    app = model_app(settings, models, jobs=jobs, catalog=catalog)
    runtime = app.state.runtime
    if settings.warm:  # before listening: a model that fails to warm stops the server here
        runtime.warm_all()
    if catalog is not None:
        from modelport.ui import ui_router

        app.include_router(ui_router(settings, catalog, built))
    return app, list(runtime.runners)


def _job_service(settings: Settings) -> JobService:
    from modelport.jobs.setup import build_job_service

    return build_job_service(settings)


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def run_uvicorn(app: Any, settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve ``app`` on ``sock`` (default: :func:`listen`) within the connection limits of
    ``settings`` (see :func:`guarded_http`); a SIGTERM stops it gracefully with exit status 0."""
    import uvicorn

    from modelport.api.http_limits import guarded_http

    sock = sock or listen(settings)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found: make
    # that an exit with status 0, as service managers expect of a clean stop (not death by signal)
    signal.signal(signal.SIGTERM, _stopped)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_http(settings),
        timeout_keep_alive=settings.keep_alive_timeout,
        log_level="debug" if settings.debug else "warning",
        access_log=settings.debug,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a clean stop
        server.run(sockets=[sock])
    if not server.started:  # the app's startup failed (uvicorn logged why)
        raise SystemExit(LOAD_FAILED)
