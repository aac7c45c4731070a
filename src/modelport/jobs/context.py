"""What a training function gets: progress, metrics, logs, artifacts and data by URL.

Artifact names are relative paths inside the job's artifact location (``storage.paths``).
On the platform, a training's data URLs follow :class:`DataAccess`: server paths only under
its data roots (and the job's own artifact and state directories), network URLs only to public
hosts or those the admin allows (``git_allowed_hosts``), as publishing from git does.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

import fsspec

from modelport.errors import Forbidden, InvalidInput
from modelport.jobs.domain import EventKind, Job
from modelport.jobs.recorder import JobRecorder
from modelport.jobs.uploads import CHUNK
from modelport.storage.paths import public_addresses, relative_name, safe_child, shown
from modelport.storage.userdata import owner_area

#: Set by the executor for a platform's job: the data roots it may read (``os.pathsep``-joined;
#: present, even empty, means the job's data URLs are checked), and the hosts it may reach
#: although they are not public (comma-separated).
DATA_ROOTS_ENV: Final = "MODELPORT_WORKER_DATA_ROOTS"
ALLOWED_HOSTS_ENV: Final = "MODELPORT_WORKER_ALLOWED_HOSTS"
#: The module's own state directory (as its serving workers have it).
STATE_DIR_ENV: Final = "MODELPORT_DATA_DIR"

#: Sends an artifact's bytes (name, chunks) for the platform to store; returns its size.
Upload = Callable[[str, Iterable[bytes]], int]

_LOCAL: Final = frozenset({"", "file", "local"})
_HOSTED: Final = frozenset({"http", "https", "webdav", "dav", "davs", "ftp", "sftp", "ssh"})
_OBJECT_STORES: Final = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
#: Protocols whose own path is inside what the next ``::`` part names (checked instead).
_WRAPPERS: Final = frozenset({"zip", "tar", "simplecache", "filecache", "blockcache"})
_HARMLESS: Final = frozenset({"memory", "data"})
_KNOWN: Final = _LOCAL | _HOSTED | _OBJECT_STORES | _WRAPPERS | _HARMLESS
#: A part of a chained URL that fsspec reads as a protocol name (``simplecache::...``).
_PROTOCOL_WORD: Final = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class DataAccess:
    """Where a training may read data: server paths under ``roots``; network URLs to hosts
    that resolve to public addresses, or that ``allowed_hosts`` names (host or network)."""

    roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def for_worker(cls, job: Job, environ: Mapping[str, str] = os.environ) -> DataAccess | None:
        """The rules the executor set for this job's process (None: none, e.g. a local
        ``modelport train``): its data roots, its state, artifact and model directories."""
        if DATA_ROOTS_ENV not in environ:
            return None
        roots = [Path(p) for p in environ[DATA_ROOTS_ENV].split(os.pathsep) if p]
        roots += [Path(environ[STATE_DIR_ENV])] if environ.get(STATE_DIR_ENV) else []
        roots += [Path(job.model_dir)] if job.model_dir else []
        area = owner_area(job.owner, environ)  # its owner's data (data:// arguments)
        roots += [area] if area is not None else []
        hosts = [h.strip() for h in environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
        return cls(tuple(roots), tuple(hosts))

    def check(self, url: str, options: Mapping[str, Any]) -> None:
        """Forbidden, saying why, unless a training may read ``url`` (each ``::`` part)."""
        for part in url.split("::"):
            scheme, sep, rest = part.partition("://")
            if sep:
                scheme = scheme.lower()
            elif "::" in url and _PROTOCOL_WORD.fullmatch(part):  # "simplecache::...", as fsspec
                scheme, rest = part, ""
            else:
                scheme, rest = "", part
            if scheme not in _KNOWN:
                known = ", ".join(sorted(_KNOWN - _WRAPPERS - {""}))
                raise Forbidden(f"training data {shown(url)}: unsupported protocol; use {known}")
            if scheme in _LOCAL:
                self._check_path(url, rest)
            elif scheme in _HOSTED:
                self._check_host(url, part)
        for endpoint in _endpoints(options):
            self._check_host(url, endpoint)

    def _check_path(self, url: str, path: str) -> None:
        target = Path(os.path.expanduser(path)).resolve()  # as fsspec's local paths
        for root in self.roots:
            if target.is_relative_to(root.resolve()):
                return
        raise Forbidden(
            f"training data {shown(url)} is outside the data directories this platform lets "
            "trainings read: use a path under one of them (ask its admin), or an https or s3 URL"
        )

    def _check_host(self, url: str, address: str) -> None:
        try:
            parts = urlsplit(address)
            port = parts.port
        except ValueError:
            raise Forbidden(f"training data {shown(url)}: not a valid URL") from None
        try:
            public_addresses(parts.hostname or "", port, allowed=self.allowed_hosts)
        except InvalidInput as exc:
            (reason,) = exc.errors["url"]
            raise Forbidden(f"training data {shown(url)}: {reason}") from None


def _endpoints(options: Mapping[str, Any]) -> list[str]:
    """Endpoint URLs given in fsspec options (an S3-compatible store's, ...)."""
    found = [options.get("endpoint_url"), (options.get("client_kwargs") or {}).get("endpoint_url")]
    return [str(e) for e in found if e]


class TrainContext:
    """Passed as the first argument of a typed model's ``train(ctx, ...)``.

    ``report`` records progress (0..1, a message) and metrics (a time series per name);
    ``save_artifact``/``checkpoint`` write into the job's artifact location: a directory, or
    (``upload``, the platform's jobs) a remote one the platform writes for it, the bytes sent
    through the job's channel (:mod:`modelport.jobs.uploads`: no credentials here);
    ``open`` reads training data by URL (a path, ``file://``, ``s3://``, ``webdav://``...),
    within ``data_access`` when given (the platform's jobs; None: anything, as for a local
    ``modelport train``). Anything printed goes to the job's log.
    """

    def __init__(
        self,
        store: JobRecorder,
        job_id: str,
        artifacts_url: str,
        *,
        data_access: DataAccess | None = None,
        upload: Upload | None = None,
    ) -> None:
        self.store = store
        self.upload = upload
        self.job_id = job_id
        self.artifacts_url = artifacts_url.rstrip("/")
        if data_access is not None and self.artifacts_url and "://" not in self.artifacts_url:
            roots = (*data_access.roots, Path(self.artifacts_url))  # it reads what it wrote
            data_access = DataAccess(roots, data_access.allowed_hosts)
        self.data_access = data_access
        self._last_progress_at = 0.0
        self._step = 0

    def report(
        self,
        progress: float | None = None,
        message: str | None = None,
        step: int | None = None,
        **metrics: float,
    ) -> None:
        """Record progress (0..1) and/or metric values, e.g. ``report(0.5, loss=0.3)``."""
        if progress is not None:
            progress = min(1.0, max(0.0, float(progress)))
        if step is None:
            self._step += 1
            step = self._step
        else:
            self._step = step
        values = {name: float(value) for name, value in metrics.items()}
        self.store.report(
            self.job_id, progress=progress, message=message, metrics=values, step=step
        )

    def log(self, message: str) -> None:
        """Write a line to the job's log."""
        print(message, file=sys.stdout, flush=True)

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was requested (for cooperative stopping between epochs)."""
        return self.store.get(self.job_id).cancel_requested

    def artifact_url(self, name: str) -> str:
        """The URL an artifact called ``name`` is written to; InvalidInput for a name that
        would leave the job's artifact location (absolute, ``..``, a symbolic link out...)."""
        relative = relative_name(name)
        if "://" not in self.artifacts_url:
            safe_child(Path(self.artifacts_url), name)
        return f"{self.artifacts_url}/{relative}"

    def save_artifact(self, name: str, data: bytes | str | Path | Any) -> str:
        """Write ``data`` (bytes, text, a local file, or JSON-able data) as artifact ``name``."""
        url = self.artifact_url(name)
        if self.upload is not None and "://" in self.artifacts_url:
            self.upload(str(relative_name(name)), _chunks(data))
            return url
        fs, path = fsspec.core.url_to_fs(url)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if isinstance(data, Path):
            fs.put_file(str(data), path)
        else:
            if isinstance(data, str):
                payload = data.encode()
            elif isinstance(data, bytes | bytearray):
                payload = bytes(data)
            else:
                payload = json.dumps(data, default=str).encode()
            with fs.open(path, "wb") as handle:
                handle.write(payload)
        size = fs.size(path)
        self.store.add_event(self.job_id, EventKind.ARTIFACT, {"name": name, "size": size})
        return url

    def checkpoint(self, name: str, data: bytes | str | Path | Any) -> str:
        """Save a checkpoint (an artifact under ``checkpoints/``)."""
        return self.save_artifact(f"checkpoints/{name}", data)

    def load_checkpoint(self, name: str) -> bytes | None:
        """The checkpoint ``name`` this job saved (in an earlier attempt), else the newest one
        the job it retries saved; None when there is none. Resume from it."""
        return self.read_artifact(f"checkpoints/{name}")

    def read_artifact(self, name: str) -> bytes | None:
        """Artifact ``name`` of this job, else of the job it retries (and so on back); None
        when none has it."""
        relative = str(relative_name(name))
        reader = getattr(self.store, "read_artifact", None)
        if callable(reader):  # the platform's job: through its channel, the platform reads
            found: bytes | None = reader(relative)
            return found
        job: Job | None = self.store.get(self.job_id)  # the store itself (a run by hand)
        while job is not None:
            if job.artifacts_url:
                fs, path = fsspec.core.url_to_fs(f"{job.artifacts_url.rstrip('/')}/{relative}")
                if fs.isfile(path):
                    return bytes(fs.cat_file(path))
            job = self.store.get(job.retry_of) if job.retry_of else None
        return None

    def open(self, url: str, mode: str = "rb", **options: Any) -> IO[Any]:
        """Open training data by path or URL (fsspec: file, s3, webdav, http, ...).

        Forbidden, saying why, where the platform's rules (``data_access``) refuse the URL.
        """
        if self.data_access is not None:
            self.data_access.check(url, options)
            if url.partition("://")[0].lower() in ("http", "https") and "::" not in url:
                options = {**options, "allow_redirects": False}  # to where nothing was checked
        opened = fsspec.open(url, mode, **options).open()
        if "b" not in mode and not isinstance(opened, io.TextIOBase):
            return io.TextIOWrapper(opened)
        return opened  # type: ignore[no-any-return]


def _chunks(data: bytes | str | Path | Any) -> Iterator[bytes]:
    """``data`` as :meth:`TrainContext.save_artifact` stores it, a chunk at a time (a file is
    read as it is sent)."""
    if isinstance(data, Path):
        with data.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    elif isinstance(data, str):
        yield data.encode()
    elif isinstance(data, bytes | bytearray):
        yield bytes(data)
    else:
        yield json.dumps(data, default=str).encode()
