"""``modelport jobs list|show|logs|cancel|retry --url URL``: training jobs on a server."""

from __future__ import annotations

import json
import os
import time
from typing import Annotated, Any

import typer

from modelport.cli.exits import USAGE, fail

app = typer.Typer(help="Training jobs on a modelport server.", no_args_is_help=True)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="MODELPORT_URL",
        help="The server. [env: MODELPORT_URL]",
        show_default=True,
    ),
]
DEFAULT_URL = os.environ.get("MODELPORT_URL", "http://127.0.0.1:5000")


def register(root: typer.Typer) -> None:
    """Add the command group to ``root``."""
    root.add_typer(app, name="jobs")


def _request(method: str, url: str, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = httpx.request(method, f"{url.rstrip('/')}{path}", timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}", USAGE)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        message = body.get("message") if isinstance(body, dict) else None
        fail(f"{response.status_code}: {message or json.dumps(body)}", USAGE)
    return response.json()


@app.command("list")
def list_jobs(
    url: Url = DEFAULT_URL,
    model: Annotated[str | None, typer.Option(help="Only this model's jobs.")] = None,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if model:
        params["model"] = model
    if status:
        params["status"] = status
    page = _request("GET", url, "/jobs", params=params)
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
def show(job_id: str, url: Url = DEFAULT_URL) -> None:
    """Print a job as JSON."""
    typer.echo(json.dumps(_request("GET", url, f"/jobs/{job_id}"), indent=2))


@app.command("logs")
def logs(
    job_id: str,
    url: Url = DEFAULT_URL,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Wait for new lines.")] = False,
) -> None:
    """Print a job's log (and follow it until the job ends)."""
    offset = 0
    while True:
        page = _request("GET", url, f"/jobs/{job_id}/logs", params={"offset": offset})
        for line in page["lines"]:
            typer.echo(line)
        offset = page["next_offset"]
        if not follow:
            return
        if not page["lines"]:
            job = _request("GET", url, f"/jobs/{job_id}")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                rest = _request("GET", url, f"/jobs/{job_id}/logs", params={"offset": offset})
                for line in rest["lines"]:
                    typer.echo(line)
                return
            time.sleep(0.5)


@app.command("cancel")
def cancel(job_id: str, url: Url = DEFAULT_URL) -> None:
    """Cancel a job."""
    job = _request("POST", url, f"/jobs/{job_id}/cancel")
    typer.echo(f"{job['id']}: {job['status']}")


@app.command("retry")
def retry(job_id: str, url: Url = DEFAULT_URL) -> None:
    """Run a finished job again; print the new job's id."""
    job = _request("POST", url, f"/jobs/{job_id}/retry")
    typer.echo(job["id"])
