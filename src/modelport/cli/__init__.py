"""The ``modelport`` command line (typer). Exit codes: see :mod:`modelport.cli.exits`."""

from __future__ import annotations

import typer

from modelport.cli import (
    catalog,
    check,
    data,
    db,
    deploy,
    jobs,
    models,
    new,
    pipeline,
    predict,
    serve,
    train,
    up,
)

app = typer.Typer(
    name="modelport",
    help="Serve, run and describe machine-learning models behind the DEEPaaS v2 API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
up.register(app)
serve.register(app)
models.register(app)
predict.register(app)
train.register(app)
jobs.register(app)
data.register(app)
db.register(app)
catalog.register(app)
pipeline.register(app)
new.register(app)
check.register(app)
deploy.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
