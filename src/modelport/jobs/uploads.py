"""Artifacts a training sends through its channel, written by the platform; and those it reads
back (a checkpoint to resume from).

A job's artifact location may be an object store or a WebDAV server, reached with credentials
(``storage_options``). Module code runs in the training's process, so that process never gets
them: ``ctx.save_artifact`` to such a location sends the bytes through the job's channel
(:mod:`modelport.jobs.channel`: ``upload-begin``, ``upload-data``…, ``upload-end``), and the
channel's thread on the server writes them with the platform's options, under that job's
location only. Where the location is a directory on the server, the training writes it itself
(the sandbox binds that directory, and nothing else of the platform's, writable).

An upload streams (one chunk in memory at a time); it is recorded (an ``artifact`` event with
its size) only once its last byte is stored, and one abandoned half-way (the training failed,
was killed, or sent something else) is thrown away, not left behind as a partial object.

A training reads back artifacts by name (``download``, a chunk a call): its job's own, else
those of the job it retries (``retry_of``, and so on back, same owner): a retried training
resumes from the checkpoint the failed one saved. Never another job's.

A training on a node that does not share the server's disk (Ray) cannot see its model
version's artifacts (``model_dir``, fetched by the server): it copies them through the channel
(``model-files``, ``model-read``), from that directory only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from modelport.errors import InvalidInput, NotFound
from modelport.jobs.domain import EventKind, Job
from modelport.storage.backends import StorageBackend, open_url, options_for
from modelport.storage.paths import safe_child

if TYPE_CHECKING:  # the server's side: a training's process imports this module for CHUNK
    from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

#: What one ``upload-data`` or ``download`` call carries at most (raw bytes, before base64).
CHUNK = 1024 * 1024
#: How far back a training reads through the jobs it retries.
MAX_LINEAGE = 20


class Uploads:
    """One channel's artifact uploads (one at a time), for one job."""

    def __init__(
        self, store: JobStore, job_id: str, storage_options: Mapping[str, Mapping[str, Any]]
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.storage_options = storage_options
        self._backend: StorageBackend | None = None
        self._handle: Any = None
        self._path = ""
        self._name = ""
        self._size = 0
        self._located: dict[str, tuple[StorageBackend, str, int]] = {}  # what read() found

    def begin(self, name: Any) -> None:
        """Start writing artifact ``name`` (a relative path) into the job's location."""
        self.abort()  # one at a time: an unfinished one is abandoned
        if not isinstance(name, str) or not relative(name):
            raise InvalidInput({"name": ["an artifact's name is a relative path"]})
        url = self.store.get(self.job_id).artifacts_url or ""
        if "://" not in url:
            raise InvalidInput({"name": ["this job writes its artifacts itself (a directory)"]})
        backend = self._open(url)
        path = f"{backend.path.rstrip('/')}/{name}"
        with backend.errors():
            if backend.directories:
                backend.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self._handle = backend.fs.open(path, "wb")
        self._backend, self._path, self._name, self._size = backend, path, name, 0

    def data(self, encoded: Any) -> None:
        """Write the next chunk (base64 in the call)."""
        if self._handle is None or self._backend is None:
            raise InvalidInput({"op": ["upload-data without upload-begin"]})
        try:
            chunk = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput({"data": ["base64 of at most one chunk"]}) from exc
        if len(chunk) > CHUNK:
            raise InvalidInput({"data": [f"at most {CHUNK} bytes a call"]})
        with self._backend.errors():
            self._handle.write(chunk)
        self._size += len(chunk)

    def end(self) -> int:
        """Store what was written and record the artifact; its size."""
        if self._handle is None or self._backend is None:
            raise InvalidInput({"op": ["upload-end without upload-begin"]})
        handle, backend, self._handle = self._handle, self._backend, None
        try:
            with backend.errors():
                handle.close()  # an object store's upload completes here
        except Exception:
            self._discard(handle, backend)
            raise
        self._located.pop(self._name, None)  # read back from now on: this one
        recorded = {"name": self._name, "size": self._size}
        self.store.add_event(self.job_id, EventKind.ARTIFACT, recorded)
        return self._size

    def read(self, name: Any, offset: Any) -> dict[str, Any] | None:
        """A chunk of artifact ``name`` from ``offset`` (base64) and its size: the job's own,
        else the newest of the jobs it retries; None when none of them has it."""
        if not isinstance(name, str) or not relative(name):
            raise InvalidInput({"name": ["an artifact's name is a relative path"]})
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput({"offset": ["a byte offset (0 or more)"]})
        found = self._located.get(name) or self._locate(name)
        if found is None:
            return None
        backend, path, size = found
        with backend.errors(), backend.fs.open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(CHUNK)
        return {"data": base64.b64encode(chunk).decode(), "size": size}

    def _locate(self, name: str) -> tuple[StorageBackend, str, int] | None:
        """Where artifact ``name`` is (the newest job of the lineage that has it), remembered
        for the next chunks."""
        for url in self._lineage():
            backend = self._open(url)
            path = f"{backend.path.rstrip('/')}/{name}"
            with backend.errors():
                if backend.fs.isfile(path):
                    self._located[name] = (backend, path, int(backend.fs.size(path)))
                    return self._located[name]
        return None

    def _open(self, url: str) -> StorageBackend:
        """A job's artifact location, opened with the platform's options for it."""
        return open_url(url, "artifacts_url", **options_for(url, self.storage_options))

    def model_files(self) -> list[dict[str, Any]]:
        """The files of the job's model version on the server (its ``model_dir``): name, size."""
        root = self._model_root()
        if root is None:
            return []
        return [
            {"name": path.relative_to(root).as_posix(), "size": path.stat().st_size}
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
        ]

    def model_read(self, name: Any, offset: Any) -> dict[str, Any]:
        """A chunk of one of those files from ``offset`` (base64)."""
        root = self._model_root()
        if root is None or not isinstance(name, str):
            raise InvalidInput({"name": ["this job has no model directory on the server"]})
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput({"offset": ["a byte offset (0 or more)"]})
        path = safe_child(root, name)
        if not path.is_file():
            raise InvalidInput({"name": [f"{name} is not a file of the model's"]})
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(CHUNK)
        return {"data": base64.b64encode(chunk).decode(), "size": path.stat().st_size}

    def _model_root(self) -> Path | None:
        model_dir = self.store.get(self.job_id).model_dir
        root = Path(model_dir).resolve() if model_dir else None
        return root if root is not None and root.is_dir() else None

    def _lineage(self) -> list[str]:
        """The artifact locations of this job and of the jobs it retries, newest first."""
        job: Job | None = self.store.get(self.job_id)
        assert job is not None
        owner, urls, seen = job.owner, list[str](), set[str]()
        while job is not None and len(urls) < MAX_LINEAGE and job.id not in seen:
            seen.add(job.id)
            if job.owner != owner:  # a retry is its owner's: never read someone else's
                break
            if job.artifacts_url:
                urls.append(job.artifacts_url)
            job = self._get(job.retry_of) if job.retry_of else None
        return urls

    def _get(self, job_id: str) -> Job | None:
        try:
            return self.store.get(job_id)
        except NotFound:
            return None

    def abort(self) -> None:
        """Throw away an upload left unfinished."""
        handle, backend, self._handle = self._handle, self._backend, None
        if handle is not None and backend is not None:
            self._discard(handle, backend)

    def _discard(self, handle: Any, backend: StorageBackend) -> None:
        with contextlib.suppress(Exception):
            if isinstance(handle, AbstractBufferedFile):
                handle.discard()  # s3fs: its multipart upload aborted, no object made
                handle.closed = True  # and nothing flushed when it is collected
            else:
                handle.close()  # others store as they go, or on close: removed below
        with contextlib.suppress(Exception):
            if backend.fs.exists(self._path):
                backend.fs.rm(self._path)
        log.info("job %s: discarded the unfinished artifact %s", self.job_id, self._name)


def relative(name: str) -> bool:
    """Whether ``name`` is a relative path that stays inside its directory."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name
