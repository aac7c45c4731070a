"""A training job's only way to the platform: a private socket, not the database.

The job's process runs module code (untrusted), so it gets no database URL and no credentials.
It records what it reports — progress, metrics, log lines, artifacts written, its end — through
:class:`ChannelRecorder`, which sends each call over one end of a socketpair; the executor's
:func:`serve_channel` thread applies it to the job store, for that job only, after checking it:

- ``get``: the job itself (for ``ctx.cancelled``), nothing of other jobs;
- ``report``: progress in [0, 1], a message (≤ 1,000 characters), ≤ 100 metrics of finite
  numbers, a step;
- ``logs``: ≤ 1,000 lines of ``stdout``/``stderr`` a call, each cut at 16 KiB;
- ``artifact``: the name (a relative path) and size of a file it wrote under its artifacts;
- ``devices``: the accelerators it was given (:mod:`modelport.jobs.devices`);
- ``upload-begin``, ``upload-data``, ``upload-end``: an artifact's bytes, written by the platform
  into the job's artifact location when that is remote (:mod:`modelport.jobs.uploads`: the
  training holds no storage credentials); ``download``: a chunk of an artifact it (or the job
  it retries) wrote, to resume from; ``model-files``, ``model-read``: its model version's
  artifacts, for a node that does not share the server's disk;
- ``notebook``: a notebook job's secrets (Jupyter's token, the owner's short-lived platform
  token, its home and socket), made by the platform's hook for that job only
  (:mod:`modelport.jobs.notebook_sessions`);
- ``finish``: ``succeeded`` with its result (JSON, ≤ 1 MiB) or ``failed`` with an error.

Frames are a 4-byte length and UTF-8 JSON (never pickle, whose loading runs code); each call
waits for its answer (``{"ok": value}`` or ``{"error": kind, "message": ...}``).

A job that runs on another machine (Ray) reaches the platform over TCP instead:
:class:`ChannelListener` listens on the server's address and hands each job a one-time key; the
job's process connects (:func:`connect_channel`), sends its key as the first frame, and is then
served as above, as that job only. The Ray workers need a route to the server, never to the
database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import secrets
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelport.errors import IllegalTransition, InvalidInput, ModelportError
from modelport.jobs.devices import checked
from modelport.jobs.domain import EventKind, Job, JobStatus, utcnow
from modelport.jobs.uploads import CHUNK, Uploads, relative

if TYPE_CHECKING:  # the server's side only: a training's process never imports the store
    from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 2 * 1024 * 1024
MAX_LINES: Final = 1000
MAX_LINE: Final = 16 * 1024
MAX_METRICS: Final = 100
MAX_RESULT: Final = 1024 * 1024

#: The platform's maker of a notebook job's secrets (``notebook``), given the job's id.
NotebookHook = Callable[[str], dict[str, Any]]


class ChannelClosed(ModelportError):
    """The platform's end of the channel is gone."""


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, default=str).encode()
    if len(data) > MAX_FRAME:
        raise InvalidInput({"_schema": [f"a message of {len(data)} bytes is too large"]})
    sock.sendall(HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> dict[str, Any] | None:
    header = _exactly(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is over the limit")
    data = _exactly(sock, size)
    if data is None:
        return None
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a frame must be a JSON object")
    return message


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    parts = bytearray()
    while len(parts) < size:
        chunk = sock.recv(size - len(parts))
        if not chunk:
            return None
        parts += chunk
    return bytes(parts)


class ChannelRecorder:
    """The job store as a training process sees it: calls over its channel (thread-safe)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def _call(self, op: str, **args: Any) -> Any:
        with self._lock:
            try:
                _send(self.sock, {"op": op, **args})
                answer = _receive(self.sock)
            except OSError as exc:
                raise ChannelClosed(f"the platform's channel is gone: {exc}") from exc
        if answer is None:
            raise ChannelClosed("the platform closed the channel")
        if "error" in answer:
            kind = IllegalTransition if answer["error"] == "IllegalTransition" else ModelportError
            raise kind(str(answer.get("message", "")))
        return answer.get("ok")

    def get(self, job_id: str) -> Job:
        """The job (its id is the channel's: the argument is for the store's signature)."""
        return Job.model_validate(self._call("get"))

    def report(
        self,
        job_id: str,
        *,
        progress: float | None = None,
        message: str | None = None,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
    ) -> None:
        """Record progress and metric points."""
        self._call("report", progress=progress, message=message, metrics=metrics, step=step)

    def append_logs(self, job_id: str, lines: Sequence[tuple[str, str]]) -> None:
        """Append log lines, ``(stream, text)`` each, in batches the platform accepts."""
        for start in range(0, len(lines), MAX_LINES):
            self._call("logs", lines=[list(pair) for pair in lines[start : start + MAX_LINES]])

    def add_event(self, job_id: str, kind: EventKind, data: dict[str, Any]) -> None:
        """Record an artifact written, or the devices it was given (the only events a job
        records itself)."""
        if kind is EventKind.DEVICES:
            self._call("devices", devices=data.get("devices"))
            return
        if kind is not EventKind.ARTIFACT:
            raise InvalidInput({"kind": [f"a job records artifacts only, not {kind.value}"]})
        self._call("artifact", name=data.get("name"), size=data.get("size"))

    def write_artifact(self, name: str, chunks: Iterable[bytes]) -> int:
        """Send artifact ``name``'s bytes for the platform to store (a remote artifact
        location: :mod:`modelport.jobs.uploads`); its size. Nothing is stored if ``chunks``
        fails half-way."""
        self._call("upload-begin", name=name)
        try:
            for chunk in chunks:
                for start in range(0, len(chunk), CHUNK):
                    piece = base64.b64encode(chunk[start : start + CHUNK]).decode()
                    self._call("upload-data", data=piece)
        except BaseException:
            with suppress(ModelportError):
                self._call("upload-abort")
            raise
        size: int = self._call("upload-end")
        return size

    def read_artifact(self, name: str) -> bytes | None:
        """Artifact ``name`` of this job, else of the job it retries (None: neither has it)."""
        parts: list[bytes] = []
        offset, size = 0, None
        while size is None or offset < size:
            found = self._call("download", name=name, offset=offset)
            if found is None:
                return None
            chunk = base64.b64decode(found["data"])
            size = int(found["size"])
            if not chunk and offset < size:
                raise ChannelClosed(f"artifact {name} ended at {offset} of {size} bytes")
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)

    def fetch_model(self, dest: Path) -> Path:
        """Copy the job's model version's artifacts (its ``model_dir`` on the server) into
        ``dest``; ``dest``."""
        for found in self._call("model-files"):
            name = str(found["name"])
            if not relative(name):
                raise ChannelClosed(f"the platform named a model file {name!r}")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                offset, size = 0, int(found["size"])
                while offset < size:
                    chunk = base64.b64decode(
                        self._call("model-read", name=name, offset=offset)["data"]
                    )
                    if not chunk:
                        raise ChannelClosed(f"model file {name} ended at {offset} of {size} bytes")
                    out.write(chunk)
                    offset += len(chunk)
        return dest

    def notebook_secrets(self) -> dict[str, Any]:
        """This notebook job's secrets, from the platform (``notebook``)."""
        return dict(self._call("notebook"))

    def transition(self, job_id: str, new: JobStatus, **fields: Any) -> Job:
        """End the job: ``succeeded`` (with ``result``) or ``failed`` (with ``error``)."""
        result = fields.get("result")
        return Job.model_validate(
            self._call("finish", status=new.value, result=result, error=fields.get("error"))
        )


def serve_channel(
    sock: socket.socket,
    store: JobStore,
    job_id: str,
    storage_options: Mapping[str, Mapping[str, Any]] | None = None,
    notebook: NotebookHook | None = None,
) -> None:
    """Answer one job's calls until its process closes the channel (run it in a thread);
    ``storage_options``: what opens the job's artifact location for its uploads; ``notebook``:
    what makes a notebook job's secrets (none: the platform opens no notebooks)."""
    uploads = Uploads(store, job_id, storage_options or {})
    with sock:
        try:
            _serve(sock, store, job_id, uploads, notebook)
        finally:
            uploads.abort()  # the training ended half-way through one: nothing is left


def _serve(
    sock: socket.socket,
    store: JobStore,
    job_id: str,
    uploads: Uploads,
    notebook: NotebookHook | None,
) -> None:
    while True:
        try:
            message = _receive(sock)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            log.warning("job %s: unreadable message on its channel: %s", job_id, exc)
            return
        if message is None:
            return
        try:
            answer: dict[str, Any] = {"ok": _apply(store, job_id, message, uploads, notebook)}
        except InvalidInput as exc:
            said = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            answer = {"error": "InvalidInput", "message": said}
        except ModelportError as exc:
            answer = {"error": type(exc).__name__, "message": exc.message}
        except (TypeError, ValueError, KeyError) as exc:
            answer = {"error": "InvalidInput", "message": f"malformed call: {exc}"}
        with suppress(OSError):
            _send(sock, answer)


def _apply(
    store: JobStore,
    job_id: str,
    message: dict[str, Any],
    uploads: Uploads,
    notebook: NotebookHook | None,
) -> Any:
    op = message.get("op")
    if op == "get":
        return store.get(job_id).model_dump(mode="json")
    if op == "report":
        store.report(job_id, **_report(message))
        return None
    if op == "logs":
        store.append_logs(job_id, _lines(message.get("lines")))
        return None
    if op == "artifact":
        name, size = message.get("name"), message.get("size")
        if not isinstance(name, str) or not relative(name) or not isinstance(size, int):
            raise InvalidInput({"name": ["an artifact is a relative path and a size"]})
        store.add_event(job_id, EventKind.ARTIFACT, {"name": name, "size": size})
        return None
    if op == "devices":
        try:
            devices = checked(message.get("devices"))
        except ValueError as exc:
            raise InvalidInput({"devices": [str(exc)]}) from exc
        store.add_event(job_id, EventKind.DEVICES, {"devices": devices})
        return None
    if op == "upload-begin":
        return uploads.begin(message.get("name"))
    if op == "upload-data":
        return uploads.data(message.get("data"))
    if op == "upload-end":
        return uploads.end()
    if op == "upload-abort":
        return uploads.abort()
    if op == "download":
        return uploads.read(message.get("name"), message.get("offset"))
    if op == "model-files":
        return uploads.model_files()
    if op == "model-read":
        return uploads.model_read(message.get("name"), message.get("offset"))
    if op == "notebook":
        return _notebook(notebook, job_id)
    if op == "finish":
        return _finish(store, job_id, message).model_dump(mode="json")
    raise InvalidInput({"op": [f"unknown call {op!r}"]})


def _notebook(hook: NotebookHook | None, job_id: str) -> dict[str, Any]:
    if hook is None:
        raise InvalidInput({"op": ["this platform opens no notebooks"]})
    return hook(job_id)


def _report(message: dict[str, Any]) -> dict[str, Any]:
    progress = message.get("progress")
    if progress is not None:
        progress = min(1.0, max(0.0, float(progress)))
        if math.isnan(progress):
            progress = None
    text = message.get("message")
    metrics = message.get("metrics") or {}
    if not isinstance(metrics, dict) or len(metrics) > MAX_METRICS:
        raise InvalidInput({"metrics": [f"at most {MAX_METRICS} named numbers"]})
    values = {str(k)[:200]: float(v) for k, v in metrics.items()}
    values = {k: v for k, v in values.items() if math.isfinite(v)}
    step = message.get("step")
    return {
        "progress": progress,
        "message": str(text)[:1000] if text is not None else None,
        "metrics": values,
        "step": int(step) if step is not None else None,
    }


def _lines(lines: Any) -> list[tuple[str, str]]:
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise InvalidInput({"lines": [f"at most {MAX_LINES} lines a call"]})
    out = []
    for pair in lines:
        stream, text = pair
        if stream not in ("stdout", "stderr"):
            raise InvalidInput({"lines": ["stream must be stdout or stderr"]})
        out.append((stream, str(text)[:MAX_LINE]))
    return out


def _finish(store: JobStore, job_id: str, message: dict[str, Any]) -> Job:
    status = JobStatus(str(message.get("status")))
    if status is JobStatus.SUCCEEDED:
        result = message.get("result")
        if len(json.dumps(result, default=str)) > MAX_RESULT:
            result = {"error": "the result was larger than 1 MiB: see the job's artifacts"}
        return store.transition(job_id, status, finished_at=utcnow(), result=result, progress=1.0)
    if status is JobStatus.FAILED:
        error = str(message.get("error") or "failed")[:MAX_LINE]
        return store.transition(job_id, status, finished_at=utcnow(), error=error)
    raise InvalidInput({"status": ["a job ends succeeded or failed"]})


# -- over TCP, for jobs on other machines ---------------------------------------------------------

#: seconds a new connection has to present its key
KEY_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class ChannelAddress:
    """Where and how one job's process reaches its channel (passed to it as task arguments)."""

    host: str
    port: int
    key: str


def connect_channel(address: ChannelAddress, timeout: float = 30.0) -> socket.socket:
    """Open a job's channel to the platform (in the job's process)."""
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError as exc:
        where = f"{address.host}:{address.port}"
        raise ChannelClosed(f"cannot reach the platform's job channel at {where}: {exc}") from exc
    sock.settimeout(None)
    _send(sock, {"key": address.key})
    return sock


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ChannelListener:
    """The server's end for jobs that run elsewhere: one TCP listener, a one-time key per job.

    A connection that does not present a key it was given within ``KEY_TIMEOUT`` seconds is
    closed; a key works once. Keys are looked up by their SHA-256 (no timing on the key).
    """

    def __init__(
        self,
        store: JobStore,
        host: str,
        port: int = 0,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
        notebook: NotebookHook | None = None,
    ) -> None:
        self.store = store
        self.storage_options = storage_options
        self.notebook = notebook
        self._server = socket.create_server((host, port))
        self.host, self.port = host, int(self._server.getsockname()[1])
        self._keys: dict[str, str] = {}  # sha256(key) -> job id
        self._served: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="job-channels", daemon=True).start()

    def open(self, job_id: str) -> ChannelAddress:
        """A new address for ``job_id``'s process (its key works once)."""
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._keys[_digest(key)] = job_id
        return ChannelAddress(self.host, self.port, key)

    def wait(self, job_id: str, timeout: float) -> None:
        """Wait until the job's channel has answered its last call (its process ended), and
        forget a key it never used."""
        with self._lock:
            thread = self._served.pop(job_id, None)
            for digest in [d for d, j in self._keys.items() if j == job_id]:
                del self._keys[digest]
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Stop accepting (channels already open end with their processes)."""
        self._closed = True
        with suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._admit, args=(conn,), daemon=True).start()

    def _admit(self, conn: socket.socket) -> None:
        conn.settimeout(KEY_TIMEOUT)
        try:
            first = _receive(conn)
        except (OSError, ValueError, UnicodeDecodeError):
            first = None
        key = first.get("key") if first else None
        with self._lock:
            job_id = self._keys.pop(_digest(key), None) if isinstance(key, str) else None
        if job_id is None:
            log.warning("refused a job channel connection without a valid key")
            conn.close()
            return
        conn.settimeout(None)
        thread = threading.current_thread()
        with self._lock:
            self._served[job_id] = thread
        serve_channel(conn, self.store, job_id, self.storage_options, self.notebook)
