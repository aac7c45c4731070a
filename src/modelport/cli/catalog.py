"""``modelport catalog ...``: the local Open Catalog (the embedded store in the data directory).

Commands work on the catalog of ``Settings()`` (``MODELPORT_DATA_DIR``, ``MODELPORT_DATABASE_URL``,
``MODELPORT_CATALOG_ARTIFACTS_URL``), as ``modelport train`` works on the job store. Errors map to
the exit codes of :mod:`modelport.cli.exits`; ``validate`` and ``import`` also exit 1 when the
metadata or an index entry they were given is invalid.

``search``, ``show``, ``versions``, ``publish`` (a git URL), ``alias``, ``deprecate`` and ``pull``
work on a server's catalog instead with ``--url`` (or ``$MODELPORT_URL``, the one server setting of
every remote command; ``$MODELPORT_CATALOG_URL`` is its deprecated alias), through
:class:`modelport.Client`, with ``--token`` (``$MODELPORT_TOKEN``). They print the same as locally;
``--json`` prints the server's JSON. Errors the server answers end with ``<status>: <message>``,
exit 2, as ``modelport jobs`` does. Each says on stderr which it acts on: the local store (its
path) or the server (its URL). Both are a :class:`~modelport.catalog.port.CatalogPort`, given by
:func:`~modelport.cli.catalog_remote.open_catalog`, so each command prints one way; ``publish``
and ``pull`` differ by target (``cli/catalog_transfer.py``).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.catalog.domain import Visibility
from modelport.cli.catalog_remote import local_service as _service
from modelport.cli.catalog_remote import open_catalog
from modelport.cli.catalog_transfer import (
    METADATA_FILENAME,
    publish_remote,
    pull_local,
    pull_remote,
)
from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.target import OptionalUrl, Token
from modelport.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from modelport.catalog.domain import SearchPage, VersionRecord

#: Exit code of ``validate`` (invalid metadata) and ``import`` (an entry failed).
INVALID = 1
__all__ = ["INVALID", "METADATA_FILENAME", "app", "register"]
#: ``[user@]host:path``, git's scp-like syntax for ssh.

app = typer.Typer(
    help="The Open Catalog (local, or a server's with --url): search, publish, validate, pull.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The module's name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Facet = Annotated[list[str] | None, typer.Option(help="Only modules with this value (repeatable).")]
Url = OptionalUrl


def register(root: typer.Typer) -> None:
    """Add the command group (with ``yank``, ``unyank`` and ``rollout``) to ``root``."""
    from modelport.cli import rollouts, versions

    versions.register(app)
    rollouts.register(app)
    root.add_typer(app, name="catalog")


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


# -- reading ----------------------------------------------------------------------------------


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Words to look for (all must match).")] = "",
    library: Facet = None,
    task: Facet = None,
    category: Facet = None,
    data_type: Facet = None,
    tag: Facet = None,
    license: Facet = None,
    sort: Annotated[str, typer.Option(help="relevance, name, updated or created.")] = "relevance",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    deprecated: Annotated[bool, typer.Option("--deprecated", help="Include them.")] = False,
    as_json: AsJson = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Search modules by text and facets; print them with facet counts."""
    given = {
        "libraries": library,
        "tasks": task,
        "categories": category,
        "data-type": data_type,
        "tags": tag,
        "license": license,
    }
    filters = {facet: values for facet, values in given.items() if values}
    with open_catalog(url, token) as catalog:
        page = catalog.search(
            query,
            filters=filters,
            sort=sort,
            limit=limit,
            offset=offset,
            include_deprecated=deprecated,
        )
    if as_json:  # the store's JSON as pydantic writes it, a server's as it sent it
        dump = page.model_dump(mode="json")
        typer.echo(page.model_dump_json(indent=2) if url is None else json.dumps(dump, indent=2))
        return
    _render_page(page)


@app.command("show")
def show(
    name: Name,
    version: Annotated[str | None, typer.Option(help="A version or alias.")] = None,
    as_json: AsJson = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Show a module: aliases, a version's metadata summary, artifacts and lineage."""
    with open_catalog(url, token) as catalog:
        module = catalog.module(name)
        record = catalog.version(name, version or "latest")
    if as_json:  # a server's module comes with what it adds (its latest version's summary)
        doc = {"module": module.model_dump(mode="json"), "version": record.model_dump(mode="json")}
        typer.echo(json.dumps(doc, indent=2))
        return
    console = _console()
    console.print(f"[bold]{module.name}[/bold] {record.version} — {module.title}")
    if module.deprecated:
        console.print(f"[red]deprecated[/red]: {module.deprecation_message or 'no reason given'}")
    aliases = ", ".join(f"{alias} → {v}" for alias, v in sorted(module.aliases.items()))
    _render_version(console, record, aliases)


@app.command("versions")
def versions(name: Name, as_json: AsJson = False, url: Url = None, token: Token = None) -> None:
    """List a module's versions, highest first."""
    with open_catalog(url, token) as catalog:
        records = catalog.versions(name)
    if as_json:
        docs = [r.model_dump(mode="json") for r in records]
        typer.echo(json.dumps(docs, indent=2))
        return
    from rich.table import Table

    table = Table("version", "published_at (UTC)", "published_by", "commit", "lineage job")
    for r in records:
        published = f"{r.published_at:%Y-%m-%d %H:%M:%S}"
        job = r.lineage.job_id or ""
        table.add_row(r.version, published, r.published_by or "", (r.commit or "")[:12], job)
    _console().print(table)


# -- writing ----------------------------------------------------------------------------------


@app.command("publish")
def publish(
    source: Annotated[str, typer.Argument(help="A module directory or a git repository URL.")],
    ref: Annotated[str | None, typer.Option(help="Branch or tag to clone.")] = None,
    version: Annotated[str | None, typer.Option(help="Override the module's version.")] = None,
    artifact: Annotated[
        list[Path] | None,
        typer.Option(help="A file to publish with it (repeatable): from here, or in the module."),
    ] = None,
    published_by: Annotated[str | None, typer.Option(help="Default: your user name.")] = None,
    visibility: Annotated[
        Visibility | None,
        typer.Option(help="Who sees the module. Default: public (new), unchanged (existing)."),
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option(help="A group that sees a 'group' module (repeatable).")
    ] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Publish a module directory or git repository as a new (immutable) version.

    With --url the server clones a git repository URL, or receives a local directory's project
    (without .git, environments and caches).
    """
    if url is not None:
        if artifact or published_by:
            fail("--artifact and --published-by are not supported with --url", USAGE)
        publish_remote(url, token, source, ref, version, visibility, group or [])
        return
    options: dict[str, Any] = {
        "version": version,
        "artifacts": [_artifact_path(p) for p in artifact or []],
        "published_by": published_by or _user(),
    }
    if visibility is not None or group:
        options.update(visibility=visibility, groups=group or [])
    with cli_errors():
        from modelport.catalog.git import GitPolicy
        from modelport.settings import MiB, Settings

        settings = Settings()
        service = _service(settings)
        # the operator's own command: any URL git takes, local paths too, within the size cap
        git = GitPolicy(max_bytes=settings.git_max_size_mb * MiB)
        try:
            record = service.publish(_clone_url(source), ref, git=git, **options)
        except Conflict as exc:
            fail(f"{exc.message}. Publish it as a new version (--version).", USAGE)
    count = len(record.artifacts)
    typer.echo(f"published {record.module} {record.version} ({count} artifacts)")


@app.command("import")
def import_index(
    index: Annotated[
        str,
        typer.Argument(
            help="A .gitmodules file or YAML list of repositories, a catalog checkout, "
            "or a catalog repository's git URL (relative submodule URLs resolve against it)."
        ),
    ],
    published_by: Annotated[str | None, typer.Option(help="Default: your user name.")] = None,
) -> None:
    """Publish every module of a catalog index; exit 1 if any entry failed.

    Modules whose metadata AI4OS refuses are reported with AI4OS's errors; modelport's
    warnings on published modules are listed too.
    """
    with cli_errors():
        service = _service(elsewhere="import works on the local store only")
        report = service.import_index(index, published_by=published_by or _user())
    for label in report.published:
        typer.echo(f"published {label}")
        for warning in report.warnings.get(label, []):
            typer.echo(f"  warning: {warning}")
    for label in report.unchanged:
        typer.echo(f"unchanged {label}")
    for entry, message in report.errors.items():
        typer.echo(f"error {entry}: {message}", err=True)
    counts = (len(report.published), len(report.unchanged), len(report.errors))
    typer.echo("published: {}, unchanged: {}, errors: {}".format(*counts))
    if report.errors:
        raise typer.Exit(INVALID)


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A metadata file or a module directory.")] = Path(),
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on modelport's warnings too.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Validate a module's metadata as the AI4OS hub's CI does, then with modelport's rules.

    AI4OS's verdict (its published JSON schema) decides validity; modelport's warnings (SPDX
    licence, URIs, image references, dates, the file's real format) follow.

    Exit codes:

    0 - the metadata is valid

    1 - the metadata is invalid: every bad field is listed with its messages (with --strict,
    also when modelport has warnings)

    2 - usage error: no metadata file, or a file that cannot be read
    """
    from modelport.catalog.files import MetadataFile, find_metadata_file, read_metadata_file
    from modelport.catalog.metadata import MetadataReport
    from modelport.cli import metadata_report

    with cli_errors():
        file = find_metadata_file(path) if path.is_dir() else path
        if not file.is_file():
            fail(f"metadata file not found: {file}", USAGE)
        try:
            file.open("rb").close()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", USAGE)
    try:
        read = read_metadata_file(file)
    except InvalidInput as exc:  # it does not even parse
        read = MetadataFile(file, "yaml", MetadataReport("", exc.errors))
    if as_json:
        report = metadata_report.report_json(read, str(file), strict=strict)
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(metadata_report.report_text(read, str(file), strict=strict), nl=False)
    raise typer.Exit(metadata_report.exit_code(read, strict=strict))


@app.command("alias")
def alias(
    name: Name,
    alias: Annotated[str, typer.Argument(help="The alias, e.g. stable.")],
    version: Annotated[str, typer.Argument(help="The version it names.")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Point an alias of a module at one of its versions."""
    with open_catalog(url, token) as catalog:
        module = catalog.set_alias(name, alias, version)
    typer.echo(f"{module.name}: {alias} → {module.aliases[alias]}")


@app.command("deprecate")
def deprecate(
    name: Name,
    undo: Annotated[bool, typer.Option("--undo", help="Remove the deprecation.")] = False,
    message: Annotated[str | None, typer.Option(help="Why, and what to use instead.")] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Flag a module as deprecated (hidden from search unless asked), or unflag it."""
    with open_catalog(url, token) as catalog:
        module = catalog.deprecate(name, not undo, message)
    state = "deprecated" if module.deprecated else "not deprecated"
    typer.echo(
        f"{module.name}: {state}" + (f" ({message})" if module.deprecated and message else "")
    )


@app.command("pull")
def pull(
    name: Name,
    version: Annotated[str | None, typer.Option(help="A version or alias.")] = None,
    dest: Annotated[Path | None, typer.Option(help="Default: ./NAME-VERSION/")] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Download a version's artifacts (each checked against its sha256) and its metadata."""
    if url is not None:
        pull_remote(url, token, name, version, dest)
    else:
        pull_local(name, version, dest)


# -- helpers ----------------------------------------------------------------------------------


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return None


def _artifact_path(path: Path) -> Path:
    # Paths are given from the current directory; ones not found here are read in the module.
    return path.resolve() if path.exists() else path


def _clone_url(source: str) -> str:
    path = Path(source)
    return str(path.resolve()) if path.is_dir() else source


def _render_page(page: SearchPage) -> None:
    from rich.table import Table

    console = _console()
    shown = f"{page.offset + 1}-{page.offset + len(page.modules)} of " if page.modules else ""
    table = Table(title=f"{shown}{page.total} modules")
    table.add_column("name", no_wrap=True)
    for column in ("version", "title", "tags"):
        table.add_column(column)
    for hit in page.modules:
        title = f"{hit.title} [red](deprecated)[/red]" if hit.deprecated else hit.title
        table.add_row(hit.name, hit.latest_version or "", title, ", ".join(hit.tags))
    if page.modules:
        console.print(table)
    else:
        past = f"{page.total} modules match, none from offset {page.offset}."
        console.print(past if page.total else "No modules match.")
    for facet, counts in page.facets.items():
        if counts:
            console.print(f"{facet}: " + ", ".join(f"{v} ({n})" for v, n in counts.items()))


def _render_version(console: Console, record: VersionRecord, aliases: str) -> None:
    from rich.table import Table

    meta = record.metadata
    rows = {
        "aliases": aliases,
        "summary": meta.get("summary"),
        "libraries": ", ".join(meta.get("libraries") or []),
        "tasks": ", ".join(meta.get("tasks") or []),
        "categories": ", ".join(meta.get("categories") or []),
        "data-type": ", ".join(meta.get("data-type") or []),
        "tags": ", ".join(meta.get("tags") or []),
        "license": meta.get("license"),
        "source code": (meta.get("links") or {}).get("source_code"),
        "load": record.load_spec,
        "package": record.package,
        "source": record.source_url,
        "commit": record.commit,
        "published": f"{record.published_at:%Y-%m-%d %H:%M:%S} by {record.published_by or '?'}",
        "lineage job": record.lineage.job_id,
        "base version": record.lineage.base_version,
        "training data": record.lineage.data_url,
    }
    for key, value in rows.items():
        if value:
            console.print(f"  {key + ':':<15} {value}")
    if record.artifacts:
        table = Table("artifact", "size", "sha256", "type", title="artifacts")
        for a in record.artifacts:
            table.add_row(a.name, str(a.size), a.sha256[:16], a.media_type or "")
        console.print(table)
    else:
        console.print("  no artifacts")
