"""``modelport jobs submit|notebook|list|show|logs|cancel|retry|artifacts --url URL``: jobs on a
server (``notebook``: JupyterLab on the platform, docs/notebooks.md).

Every command talks to the server (``--url``, else ``$MODELPORT_URL``, else
http://127.0.0.1:5000; said on stderr) through :class:`modelport.Client`; ``--token`` (or
``$MODELPORT_TOKEN``) authenticates when the server has sign-in enabled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.exits import USAGE, fail
from modelport.cli.target import DEFAULT_URL, Token, Url, remote

if TYPE_CHECKING:
    from modelport.client import Client

# Url, Token and remote live in cli/target.py; they are re-exported for the other remote commands.
__all__ = ["DEFAULT_URL", "FINISHED", "Token", "Url", "app", "register", "remote"]

app = typer.Typer(help="Training jobs on a modelport server.", no_args_is_help=True)

FINISHED = ("succeeded", "failed", "cancelled")


def register(root: typer.Typer) -> None:
    """Add the command group to ``root``."""
    root.add_typer(app, name="jobs")


def _key_values(pairs: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--arg wants KEY=VALUE, got {pair!r}", USAGE)
        try:
            args[key] = json.loads(value)  # numbers, booleans, lists; else the plain string
        except json.JSONDecodeError:
            args[key] = value
    return args


@app.command("submit")
def submit(
    model: str,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", "-a", help="A training argument KEY=VALUE.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="A catalog version or alias.")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs to reserve.")] = 0,
    cpus: Annotated[float, typer.Option(help="CPUs to reserve.")] = 1.0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow it to the end.")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Submit a training; print the job id (and with --follow its log, then its result)."""
    with remote(url, token) as client:
        job = client.train(
            model, version=version, resources={"cpu": cpus, "gpu": gpus}, **_key_values(arg or [])
        )
        typer.echo(job["id"])
        if follow:
            done = client.wait(job["id"], on_event=_print_log_event, raise_on_failure=False)
            typer.echo(json.dumps({k: done[k] for k in ("status", "result", "error")}, indent=2))
            if done["status"] != "succeeded":
                raise typer.Exit(1)


@app.command("notebook")
def notebook(
    module: Annotated[
        str | None, typer.Argument(help="A catalog module whose source to check out.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="The module's version or alias.")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs to reserve.")] = 0,
    cpus: Annotated[float, typer.Option(help="CPUs to reserve.")] = 1.0,
    idle_minutes: Annotated[
        float | None, typer.Option(help="Stop it after this long unused.")
    ] = None,
    max_hours: Annotated[
        float | None, typer.Option(help="Stop it this long after it starts.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until JupyterLab answers.")] = True,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Open JupyterLab on the platform: print the job id, then (once it answers) its URL."""
    from urllib.parse import urlsplit

    with remote(url, token) as client:
        job = client.notebook(
            module,
            version=version,
            resources={"cpu": cpus, "gpu": gpus},
            idle_minutes=idle_minutes,
            max_hours=max_hours,
        )
        typer.echo(job["id"])
        if wait:
            state = client.wait_notebook(job["id"])
            origin = urlsplit(url or "")
            typer.echo(f"{origin.scheme}://{origin.netloc}{state['url']}")


def _print_log_event(event: dict[str, Any]) -> None:
    if event["event"] == "log":
        typer.echo(event["data"].get("line", ""))


@app.command("list")
def list_jobs(
    url: Url = DEFAULT_URL,
    token: Token = None,
    model: Annotated[str | None, typer.Option(help="Only this model's jobs.")] = None,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs, newest first."""
    with remote(url, token) as client:
        page = client.jobs(model=model, status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{page['total']} jobs")
    table.add_column("id", no_wrap=True, min_width=32)  # ids are copied into other commands
    for column in ("model", "status", "progress", "created", "error"):
        table.add_column(column)
    for job in page["jobs"]:
        table.add_row(
            job["id"],
            job["model"],
            job["status"],
            f"{job['progress'] * 100:.0f}%",
            job["created_at"][:19],
            (job.get("error") or "")[:60],
        )
    Console().print(table)


@app.command("show")
def show(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Print a job as JSON."""
    with remote(url, token) as client:
        typer.echo(json.dumps(client.job(job_id), indent=2))


@app.command("logs")
def logs(
    job_id: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Wait for new lines.")] = False,
) -> None:
    """Print a job's log (and follow it until the job ends)."""
    with remote(url, token) as client:
        offset = _print_logs(client, job_id, 0)
        if follow:
            for event in client.events(job_id):
                if event["event"] == "end":
                    break
            _print_logs(client, job_id, offset)


def _print_logs(client: Client, job_id: str, offset: int) -> int:
    while True:
        page = client.logs(job_id, offset=offset)
        for line in page["lines"]:
            typer.echo(line)
        if not page["lines"]:
            return offset
        offset = page["next_offset"]


@app.command("cancel")
def cancel(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Cancel a job."""
    with remote(url, token) as client:
        job = client.cancel(job_id)
    typer.echo(f"{job['id']}: {job['status']}")


@app.command("retry")
def retry(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Run a finished job again; print the new job's id."""
    with remote(url, token) as client:
        typer.echo(client.retry(job_id)["id"])


@app.command("artifacts")
def artifacts(
    job_id: str,
    dest: Annotated[
        Path | None, typer.Option(help="Download them all into this directory.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List a job's artifacts, or download them with --dest."""
    with remote(url, token) as client:
        for item in client.artifacts(job_id):
            if dest is None:
                typer.echo(f"{item['name']}\t{item['size']}")
                continue
            target = dest / item["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_artifact(job_id, item["name"], target)
            typer.echo(str(target))
