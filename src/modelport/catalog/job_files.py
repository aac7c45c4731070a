"""A finished training's artifacts, read from where it saved them, to publish as a version.

A training saves its files under ``<artifacts_url>/<job id>`` (a local directory, S3, a WebDAV
share: :mod:`modelport.storage.backends`); :meth:`CatalogService.publish_job` copies them here
first, then stores each in the catalog. The location is opened with its options from
``Settings.storage_options`` (by scheme or URL prefix), as the training's own process was, so a
share or bucket that needs credentials is read with them, never with credentials in its URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from modelport.errors import InvalidInput, StoreError
from modelport.storage.backends import open_url, options_for, redact_url, scheme_of
from modelport.storage.paths import safe_child, shown


def job_artifact_files(
    artifacts_url: str | None,
    workdir: Path,
    storage_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[str, Path]]:
    """A job's artifacts, copied under ``workdir``: ``(name, copy)`` by name.

    ``artifacts_url`` is opened with its options from ``storage_options`` (Settings': by scheme
    or URL prefix), as the training that wrote there was: a WebDAV share or S3 bucket that needs
    credentials is read with them. A backend that cannot be reached raises StoreError naming it
    (503), never an empty list: a publish must not succeed without the training's files. A name
    that would leave the job's directory (or ``workdir``), a symbolic link in a local job
    directory leading out of it, raises InvalidInput (``artifacts``); a link to a directory
    inside it is skipped (its files are listed under their own names).
    """
    if not artifacts_url:
        return []
    backend = open_url(
        artifacts_url, "artifacts_url", **options_for(artifacts_url, storage_options or {})
    )
    fs, root = backend.fs, backend.path.rstrip("/")
    try:
        with backend.errors():
            if isinstance(fs, LocalFileSystem):
                found = _local_files(Path(root))
            else:
                found = [path[len(root) :].lstrip("/") for path in sorted(_find(fs, root))]
            files = []
            for name in found:
                local = safe_child(workdir, name, "artifacts")
                local.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(f"{root}/{name}", str(local))
                files.append((name, local))
    except OSError as exc:  # FileNotFoundError too: listed, then gone
        # the reason, not the message: it would show paths of this server or of the backend
        reason = exc.strerror or type(exc).__name__
        where = f" in {redact_url(artifacts_url)}" if scheme_of(artifacts_url) else ""
        raise StoreError(f"cannot read the job's artifacts{where}: {reason}") from exc
    return files


def _find(fs: Any, root: str) -> list[str]:
    """The files under ``root`` on a remote backend (none when it is absent: the training
    saved nothing). Not ``fs.exists``: it answers False for any error, an outage included."""
    try:
        return list(fs.find(root))
    except FileNotFoundError:
        return []


def _local_files(root: Path) -> list[str]:
    """The files under a local job directory (links not followed: each one is checked)."""
    names = []
    base = root.resolve()
    for directory, subdirectories, filenames in os.walk(root):
        for entry in [*subdirectories, *filenames]:
            path = Path(directory, entry)
            name = path.relative_to(root).as_posix()
            if path.is_symlink():
                if not path.resolve().is_relative_to(base):
                    message = f"{shown(name)} leads out of its directory through a symbolic link"
                    raise InvalidInput({"artifacts": [message]})
                if path.is_dir():
                    continue
            if entry in filenames:
                names.append(name)
    return sorted(names)
