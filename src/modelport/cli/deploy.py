"""``modelport deploy docker|kubernetes|ray|slurm MODULE [--output DIR]``: deployment artifacts.

MODULE is a module project directory, or an installed model's entry-point name or import path.
They are written to ``./deploy/<platform>`` unless ``--output`` says where.
Exit codes: 0 written; 2 unknown model or platform, bad options, unreadable project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.names import did_you_mean, unknown_model
from modelport.errors import NotFound


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("deploy")(deploy)


def deploy(
    platform: Annotated[str, typer.Argument(help="docker, kubernetes, ray or slurm.")],
    module: Annotated[
        str, typer.Argument(help="Module directory, entry-point name or import path.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory to write into. [default: ./deploy/PLATFORM]",
            show_default=False,
        ),
    ] = None,
    image: Annotated[str | None, typer.Option(help="Image name [default: NAME:VERSION].")] = None,
    cpu: Annotated[float | None, typer.Option(min=0.001, help="CPU cores per replica.")] = None,
    memory_mb: Annotated[int | None, typer.Option(min=1, help="Memory per replica, MB.")] = None,
    gpus: Annotated[int, typer.Option(min=0, help="GPUs per replica (and training).")] = 0,
    replicas: Annotated[int, typer.Option(min=1, help="Serving replicas.")] = 1,
    train: Annotated[bool, typer.Option("--train/--no-train", help="Kubernetes Job.")] = True,
    train_arg: Annotated[
        list[str] | None, typer.Option(help="An argument of the training Job (repeatable).")
    ] = None,
    artifacts_url: Annotated[
        str | None, typer.Option(help="Where trainings write artifacts (fsspec URL).")
    ] = None,
    time_limit: Annotated[str, typer.Option("--time", help="Slurm time limit.")] = "01:00:00",
    partition: Annotated[str | None, typer.Option(help="Slurm partition.")] = None,
) -> None:
    """Write deployment artifacts for a model: Docker, Kubernetes, Ray Serve or Slurm."""
    from modelport.deploy import DeployOptions, Platform, write_artifacts

    if platform not in set(Platform):
        hint = did_you_mean(platform, list(Platform))
        fail(f"unknown platform '{platform}'{hint} (use one of {', '.join(Platform)})", USAGE)
    options = DeployOptions(
        image,
        cpu,
        memory_mb,
        gpus,
        replicas,
        train,
        train_arg or [],
        artifacts_url,
        time_limit,
        partition,
    )
    with cli_errors():
        try:
            dest = output if output is not None else Path("deploy") / platform
            written = write_artifacts(Platform(platform), module, dest, options)
        except ValueError as exc:
            fail(str(exc), USAGE)
        except NotFound as exc:
            if not exc.message.startswith(f"no model named '{module}'"):
                raise
            raise unknown_model(module) from None
    for path in written:
        typer.echo(str(path))
