"""``modelport catalog publish`` to a server and ``pull``: moving modules and their files.

Here a server and the local store differ: a server clones a git URL itself (a local directory
cannot be sent) and answers a conflict with its status; pulled files come from the store's
objects or over HTTP, each checked against its sha256 before the version's metadata is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from modelport.cli.exits import USAGE, cli_errors, fail
from modelport.cli.target import remote
from modelport.errors import Conflict, InvalidInput, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from modelport.catalog.domain import ArtifactRecord, VersionRecord, Visibility
    from modelport.storage import ArtifactStore

METADATA_FILENAME = "ai4-metadata.yml"


def publish_remote(
    url: str,
    token: str | None,
    source: str,
    ref: str | None,
    version: str | None,
    visibility: Visibility | None,
    groups: list[str],
) -> None:
    """Have the server at ``url`` publish the git repository ``source``, or the module project
    in the local directory ``source`` (sent to it as a gzipped tar)."""
    from modelport.catalog.domain import VersionRecord
    from modelport.catalog.git import is_git_url

    local = Path(source).is_dir()
    if local and ref is not None:
        fail("--ref names a git branch or tag: a local directory has none", USAGE)
    if not local and not is_git_url(source):
        fail(f"{source!r} is neither a directory nor a git URL", USAGE)
    with remote(url, token) as client:
        try:
            if local:
                doc = client.publish_directory(
                    source, version, visibility=visibility, groups=groups
                )
            else:
                doc = client.publish(source, ref, version, visibility=visibility, groups=groups)
        except Conflict as exc:
            fail(f"409: {exc.message}. Publish it as a new version (--version).", USAGE)
    record = VersionRecord.model_validate(doc)
    count = len(record.artifacts)
    typer.echo(f"published {record.module} {record.version} ({count} artifacts)")


def pull_local(name: str, version: str | None, dest: Path | None) -> None:
    """Write a version of the local store's module ``name`` under ``dest``."""
    from modelport.cli.catalog_remote import local_service

    with cli_errors():
        service = local_service()
        record = service.version(name, version or "latest")
        target = dest or default_dest(record)
        if target.exists() and not target.is_dir():
            fail(f"{target} exists and is not a directory", USAGE)
        for artifact in record.artifacts:
            _write_verified(service.artifacts, artifact, target)
            typer.echo(f"{target / artifact.name} ({artifact.size} bytes, sha256 ok)")
        write_metadata(record, target)
    typer.echo(f"pulled {record.module} {record.version} into {target}")


def pull_remote(
    url: str, token: str | None, name: str, version: str | None, dest: Path | None
) -> None:
    """Download a version of the server's module ``name`` into ``dest``."""
    from modelport.catalog.domain import VersionRecord

    with remote(url, token) as client:
        record = VersionRecord.model_validate(client.version(name, version or "latest"))
        with cli_errors():
            from modelport.storage.paths import safe_child

            target = dest or default_dest(record)
            for artifact in record.artifacts:  # the server's names, checked before any write
                safe_child(target, artifact.name, "artifacts")
        if target.exists() and not target.is_dir():
            fail(f"{target} exists and is not a directory", USAGE)
        try:  # checked and written here: a mismatch or a full disk is not the server's answer
            client.pull(record.module, target, record.version)
        except StoreError as exc:
            fail(exc.message, USAGE)
    for artifact in record.artifacts:
        typer.echo(f"{target / artifact.name} ({artifact.size} bytes, sha256 ok)")
    with cli_errors():
        write_metadata(record, target)
    typer.echo(f"pulled {record.module} {record.version} into {target}")


def default_dest(record: VersionRecord) -> Path:
    """``./NAME-VERSION``: refused (InvalidInput) if the name or version would lead elsewhere."""
    from modelport.storage.paths import safe_child

    name = f"{record.module}-{record.version}"
    if "/" in name:
        raise InvalidInput({"version": [f"{record.version!r} cannot name a directory"]})
    safe_child(Path.cwd(), name, "version")
    return Path(name)


def _write_verified(store: ArtifactStore, artifact: ArtifactRecord, dest: Path) -> None:
    """Write one artifact under ``dest``, hashing while writing; nothing is left on mismatch."""
    from modelport.storage.paths import safe_child
    from modelport.storage.verified import write_verified

    target = safe_child(dest, artifact.name, "artifacts")
    write_verified(
        _chunks(store, artifact.sha256),
        target,
        sha256=artifact.sha256,
        size=artifact.size,
        name=artifact.name,
    )


def _chunks(store: ArtifactStore, sha256: str) -> Iterator[bytes]:
    # Lazy, as before: the store is asked for the object inside the write's error handling.
    yield from store.iter_chunks(sha256)


def write_metadata(record: VersionRecord, dest: Path) -> None:
    """Write the version's metadata as ai4-metadata.yml, unless an artifact has that name."""
    from modelport.catalog.files import dump_metadata
    from modelport.catalog.metadata import stored_metadata

    if any(a.name == METADATA_FILENAME for a in record.artifacts):
        return
    text = dump_metadata(stored_metadata(record.metadata), METADATA_FILENAME)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / METADATA_FILENAME).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot write {dest / METADATA_FILENAME}: {exc.strerror}") from exc
