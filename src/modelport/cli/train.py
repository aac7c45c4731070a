"""``modelport train MODEL --ARG value ...``: a training in the foreground, no server.

The job is recorded in the store like any other (so it keeps its log, metrics and artifacts)
and runs in its own process through the local executor; the terminal shows a progress bar,
metrics and the log as they arrive. Ctrl-C cancels it cleanly.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.cli.arguments import (
    MODEL_COMMAND,
    argument_command,
    model_or_help,
    parse_options,
    raw_args,
)
from modelport.cli.exits import MODEL_FAILED, USAGE, cli_errors, fail
from modelport.cli.names import load_model
from modelport.cli.target import say_local
from modelport.settings import Settings

CANCELLED_EXIT = 130


TRAIN_EPILOG = (
    "Options of modelport train itself: --cpu N (CPU cores the training needs), "
    "--gpu N (GPUs it needs)."
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("train", **MODEL_COMMAND)(train)


def train(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Argument(
            help="Entry-point name or import path.", metavar="MODEL", show_default=False
        ),
    ] = None,
    cpu: Annotated[float, typer.Option(help="CPU cores the training needs.")] = 1.0,
    gpu: Annotated[int, typer.Option(help="GPUs the training needs.")] = 0,
) -> None:
    """Train MODEL in the foreground. `modelport train MODEL --help` lists its options."""
    from modelport.jobs.domain import JobStatus, Resources
    from modelport.jobs.setup import build_job_service, one_off_replica

    model = model_or_help(ctx, model)
    with cli_errors():
        served = load_model(model)
        if served.train_signature is None:
            fail(f"model '{served.name}' cannot be trained (it has no train())", USAGE)
        command = argument_command(
            served.name, served.train_signature, served.metadata(), epilog=TRAIN_EPILOG
        )
        values = parse_options(command, f"modelport train {model}", ctx.args)
        if values is None:
            return
        settings = Settings(executor="local")
        settings.executor_gpus = max(gpu, settings.executor_gpus)
        say_local("job", settings, "modelport jobs submit trains on a server")
        # its own lease name: a server on this machine may share the store
        service = build_job_service(settings, replica=one_off_replica("train"))
        with tempfile.TemporaryDirectory(prefix="modelport-train-") as workdir:
            raw = raw_args(served.train_signature, values, Path(workdir))
            job = service.submit(
                served, raw, resources=Resources(cpu=min(cpu, settings.executor_cpus), gpu=gpu)
            )
        service.run_now(job.id)  # only this job: a server sharing the store runs its own
    status = _follow(service, job.id)
    final = service.get(job.id)
    if status is JobStatus.SUCCEEDED:
        typer.echo(json.dumps(final.result, indent=2))
        return
    if status is JobStatus.CANCELLED:
        typer.echo(f"job {job.id} cancelled", err=True)
        raise typer.Exit(CANCELLED_EXIT)
    fail(f"training failed: {final.error}", MODEL_FAILED)


def _follow(service: Any, job_id: str) -> Any:
    """Render events until the job ends; Ctrl-C cancels it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from modelport.jobs.domain import EventKind

    console = Console(stderr=True)
    after = 0
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("queued", total=1.0)
        try:
            while True:
                job, batch = service.watch(job_id, after=after)
                for event in batch:
                    after = event.id
                    data = event.data
                    if event.kind is EventKind.LOG:
                        console.print(data["line"], markup=False, highlight=False)
                    elif event.kind is EventKind.METRIC:
                        step = f" step {data['step']}" if data.get("step") is not None else ""
                        console.print(f"[cyan]{data['name']}[/]={data['value']:.6g}{step}")
                    elif event.kind is EventKind.PROGRESS and data.get("progress") is not None:
                        progress.update(bar, completed=data["progress"])
                    if event.kind is EventKind.PROGRESS and data.get("message"):
                        progress.update(bar, description=data["message"])
                    elif event.kind is EventKind.STATUS:
                        progress.update(bar, description=data["status"])
                if job.status.finished and not service.events(job_id, after=after):
                    if job.status.value == "succeeded":
                        progress.update(bar, completed=1.0)
                    return job.status
                time.sleep(0.1)
        except KeyboardInterrupt:
            console.print("cancelling...")
            return service.cancel(job_id, wait=service.cancel_grace + 2).status
