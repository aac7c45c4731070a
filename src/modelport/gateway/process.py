"""One model worker process, seen from the gateway: spawn it, talk to it, notice its end.

``spawn_worker`` starts ``python -m modelport.apps.worker`` with one end of a private
socketpair and waits for its ``ready`` (or ``failed``) frame; :class:`WorkerProcess` then
multiplexes request frames over that channel (one future per request id) and reports the
process's exit. The pool (``pool.py``) decides which workers live.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from modelport.errors import (
    ModelError,
    PredictTimeout,
    StartFailed,
)
from modelport.gateway.protocol import (
    MAX_WORKER_FRAME,
    FrameChannel,
    FrameTooLarge,
    FrameWriter,
    ProtocolError,
    open_channel,
)
from modelport.gateway.worker import PARENT_ENV
from modelport.jobs.executors.base import exit_reason
from modelport.sandbox.base import Sandbox, SandboxSpec
from modelport.sandbox.none import NoSandbox

if TYPE_CHECKING:
    from modelport.catalog.domain import VersionRecord
    from modelport.catalog.service import CatalogService
    from modelport.settings import Settings

#: The worker program, started by module name: a process boundary, not an import (it sits above
#: the gateway, with the apps it assembles).
WORKER_PROGRAM = "modelport.apps.worker"

log = logging.getLogger(__name__)

#: Seconds an unloaded worker gets to exit after its socket closes, before SIGKILL.
STOP_GRACE = 5.0
#: Bytes per "body" frame of a spooled request body.
BODY_CHUNK = 1024 * 1024

_WORKER_SETTINGS = (
    "base_path",
    "data_dir",
    "max_upload_size",
    "upload_memory_limit",
    "upload_memory_dir",
    "predict_concurrency",
    "predict_queue",
    "predict_timeout",
    "max_fields",
    "max_field_size",
    "max_json_depth",
    "debug",
)

Key = tuple[str, str]
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class GatewayResponse:
    """A worker's answer: status, raw headers and body, the cold start it waited for, if any."""

    status: int
    headers: Headers
    body: bytes
    cold_start: float | None
    version: str
    #: why the version that answered was yanked (None: it was not)
    yanked_reason: str | None = None
    #: the body, as it comes, of an answer sent in parts (a streaming model's); then ``body``
    #: is empty. Closing it early tells the worker to stop.
    stream: AnswerParts | None = None


class AnswerParts:
    """The body of an answer sent in parts (a streaming model's), as it arrives: an async
    iterator. Its worker counts as busy (never idle, never unloaded) until the last part; closed
    or dropped before, it tells the worker to stop answering (the model stops at its next item).
    """

    def __init__(
        self,
        worker: WorkerProcess,
        rid: int,
        parts: asyncio.Queue[bytes | Exception | None],
        on_end: Callable[[], None],
    ) -> None:
        self._worker = worker
        self._rid = rid
        self._parts = parts
        self._on_end = on_end
        self._done = False

    def __aiter__(self) -> AnswerParts:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        part = await self._parts.get()
        if part is None or isinstance(part, Exception):
            self._finish(cancel=False)
            if part is None:
                raise StopAsyncIteration
            raise part
        self._worker.touch()
        self._worker.part_read(self._rid, len(part))
        return part

    async def aclose(self) -> None:
        """Stop following the answer (the worker is told to stop, unless it has finished)."""
        self._finish(cancel=True)

    def __del__(self) -> None:  # dropped unread (its caller left before the first part)
        with contextlib.suppress(RuntimeError):  # no running loop: the gateway is gone
            self._finish(cancel=True)

    def _finish(self, *, cancel: bool) -> None:
        if self._done:
            return
        self._done = True
        self._on_end()
        self._worker.forget(self._rid, cancel=cancel)


@dataclass(frozen=True)
class WorkerInfo:
    """A loaded model worker, as ``ModelPool.loaded()`` describes it."""

    module: str
    version: str
    pid: int
    loaded_at: datetime
    last_used: datetime
    in_flight: int
    cold_start_seconds: float


def worker_config(
    settings: Settings, catalog: CatalogService, record: VersionRecord
) -> dict[str, Any]:
    """What a worker (or a Ray Serve replica) needs to serve ``record``; JSON, no secrets."""
    limits = settings.model_dump(mode="json", include=set(_WORKER_SETTINGS))
    return {
        "module": record.module,
        "version": record.version,
        "load_spec": record.load_spec,
        "package": record.package,
        "artifacts": [a.model_dump(include={"name", "sha256", "size"}) for a in record.artifacts],
        "artifacts_url": catalog.artifacts.root_url,
        "data_dir": str(settings.data_dir),
        # allowed_hosts: the gateway checked the caller's Host; the worker's channel is private
        "settings": {**limits, "warm": True, "docs": True, "allowed_hosts": ["*"]},
    }


def describe_exit(returncode: int | None) -> str:
    """How a worker process ended, for messages."""
    return "closed its channel" if returncode is None else exit_reason(returncode)


def _worker_env(sandbox: Sandbox, spec: SandboxSpec) -> dict[str, str]:
    # No MODELPORT_* variables: the worker gets its settings explicitly, and module code has no
    # business reading the platform's database URL or OIDC secrets from its environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    if not sandbox.confines:  # a confined worker dies with its sandbox (--die-with-parent)
        env[PARENT_ENV] = str(os.getpid())
    if spec.workdir is not None:
        env["HOME"] = str(spec.workdir)  # ~ is its own, writable directory
    # as multiprocessing's spawn does: the worker imports what the gateway could import
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


async def _reap(process: asyncio.subprocess.Process, grace: float) -> int:
    """Wait ``grace`` seconds for a process to exit, then kill its group; return its status."""
    if process.returncode is None and grace > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its own group: model subprocesses go too
    return await process.wait()


class WorkerProcess:
    """The gateway's handle on one running worker: its channel, pending requests and state."""

    def __init__(
        self,
        key: Key,
        process: asyncio.subprocess.Process,
        *,
        reader: FrameChannel,
        frames: FrameWriter,
        cold_start: float,
        on_exit: Callable[[WorkerProcess, int], None],
    ) -> None:
        self.module, self.version = key
        self.process = process
        self.cold_start = cold_start
        self.loaded_at = datetime.now(UTC)
        self.in_flight = 0
        #: its answers in a row that were 504 (its predictions ran past their deadline)
        self.timeouts_in_a_row = 0
        self.alive = True
        #: why we unload it (idle, lru, shutdown, stuck); None while it is wanted
        self.stopping: str | None = None
        self._frames = frames
        self._reader = reader
        self._on_exit = on_exit
        self._pending: dict[int, asyncio.Future[tuple[Any, ...]]] = {}
        #: the bodies of answers arriving in parts, by request id (None ends one)
        self._streams: dict[int, asyncio.Queue[bytes | Exception | None]] = {}
        self._cancelling: set[asyncio.Task[None]] = set()
        #: bytes of each answer in parts that arrived and its caller has not taken yet
        self._unread: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._exit_error: ModelError | None = None
        #: what it did wrong on its channel (a frame too large), if that is why it stopped
        self._violation: str | None = None
        self.touch()
        self._exit_watch = asyncio.create_task(self._close_on_exit())
        self._read_task = asyncio.create_task(self._read_loop())

    @property
    def key(self) -> Key:
        """(module, version)."""
        return self.module, self.version

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def touch(self) -> None:
        """Record a use now."""
        self.last_used = time.monotonic()
        self.last_used_at = datetime.now(UTC)

    def info(self) -> WorkerInfo:
        """A snapshot for ``ModelPool.loaded()``."""
        return WorkerInfo(
            module=self.module,
            version=self.version,
            pid=self.pid,
            loaded_at=self.loaded_at,
            last_used=self.last_used_at,
            in_flight=self.in_flight,
            cold_start_seconds=self.cold_start,
        )

    async def request(
        self,
        kind: str,
        args: tuple[Any, ...],
        seconds: float | None,
        body_file: str | None = None,
    ) -> Any:
        """Send one request frame and wait for its answer frame.

        ``body_file``: a spooled request body, sent after the request in "body" frames (the
        worker never sees the gateway's files).
        """
        if not self.alive:
            raise self._exit_error or self._died(None)
        rid = next(self._ids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        self._pending[rid] = future
        timer: asyncio.TimerHandle | None = None
        try:
            with contextlib.suppress(ConnectionError):  # then the read loop fails the future
                await self._frames.send((kind, rid, *args))
                if body_file is not None:
                    await self._send_body(rid, body_file)
            if seconds is not None:
                timer = loop.call_at(loop.time() + seconds, self._time_out, future, seconds)
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(rid, None)

    def _time_out(self, future: asyncio.Future[tuple[Any, ...]], seconds: float) -> None:
        if not future.done():
            future.set_exception(
                PredictTimeout(
                    f"model '{self.module}' {self.version} did not answer within {seconds:g} s"
                )
            )

    def _stream_part(self, frame: tuple[Any, ...]) -> None:
        rid = frame[1]
        parts = self._streams.get(rid)
        if parts is None:  # its caller has gone
            return
        if frame[0] == "end":
            parts.put_nowait(None)
            return
        if not isinstance(frame[2], bytes):
            return
        # the channel is shared: a stream is not slowed down for its caller, so what its caller
        # has not read yet is bounded as one whole answer is (max_worker_frame)
        unread = self._unread.get(rid, 0) + len(frame[2])
        if unread > self._reader.limit:
            parts.put_nowait(
                ModelError(
                    f"the answer of model '{self.module}' {self.version} ran more than "
                    f"{self._reader.limit} bytes ahead of its caller (max_worker_frame); stopped"
                )
            )
            self.forget(rid, cancel=True)
            return
        self._unread[rid] = unread
        parts.put_nowait(frame[2])

    def part_read(self, rid: int, size: int) -> None:
        """The caller of answer ``rid`` has taken ``size`` bytes of it."""
        if rid in self._unread:
            self._unread[rid] -= size

    def answer_parts(self, rid: int, on_end: Callable[[], None]) -> AnswerParts:
        """The parts of answer ``rid`` (begun by its "start" frame) as they arrive."""
        return AnswerParts(self, rid, self._streams.setdefault(rid, asyncio.Queue()), on_end)

    def forget(self, rid: int, *, cancel: bool) -> None:
        """Answer ``rid`` is over for its caller; ``cancel``: tell the worker to stop it."""
        self._streams.pop(rid, None)
        self._unread.pop(rid, None)
        if cancel and self.alive:
            task = asyncio.get_running_loop().create_task(self._cancel(rid))
            self._cancelling.add(task)
            task.add_done_callback(self._cancelling.discard)

    async def _cancel(self, rid: int) -> None:
        with contextlib.suppress(ConnectionError):
            await self._frames.send(("cancel", rid))

    async def _send_body(self, rid: int, path: str) -> None:
        with await asyncio.to_thread(open, path, "rb") as stream:
            while chunk := await asyncio.to_thread(stream.read, BODY_CHUNK):
                await self._frames.send(("body", rid, chunk))
        await self._frames.send(("body", rid, b""))

    async def stop(self) -> None:
        """Close the channel (the worker exits); kill it if it has not after a grace period."""
        self.stopping = self.stopping or "shutdown"
        self._frames.close()
        await asyncio.shield(self._read_task)

    def _died(self, returncode: int | None) -> ModelError:
        how = describe_exit(returncode)
        if self._violation is not None:
            how = f"{self._violation}, and was stopped"
        return ModelError(
            f"the worker process serving model '{self.module}' {self.version} (pid {self.pid}) "
            f"{how}; the next request starts a new one"
        )

    async def _close_on_exit(self) -> None:
        # a child of the model may hold the socket open: the process exit is what counts
        await self.process.wait()
        self._frames.close()

    async def _read_loop(self) -> None:
        try:
            while (frame := await self._reader.read()) is not None:
                if frame[0] in ("chunk", "end") and len(frame) > 1:
                    self._stream_part(frame)
                    continue
                future = self._pending.pop(frame[1], None) if len(frame) > 1 else None
                if frame[0] == "start" and future is not None:
                    self._streams[frame[1]] = asyncio.Queue()
                if future is not None and not future.done():
                    future.set_result(frame)
        except FrameTooLarge as exc:
            self._violation = f"sent {exc} (max_worker_frame)"
            log.error("the worker of %s %s %s", self.module, self.version, self._violation)
        except (ProtocolError, OSError, EOFError, ValueError) as exc:
            log.error("bad frame from the worker of %s %s: %s", self.module, self.version, exc)
        finally:
            self.alive = False
            self._frames.close()
            # a worker that broke the protocol gets no grace: it may still be sending
            grace = 0.0 if self._violation is not None else STOP_GRACE
            returncode = await _reap(self.process, grace)
            self._exit_watch.cancel()
            self._exit_error = self._died(returncode)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._exit_error)
            self._pending.clear()
            for parts in self._streams.values():
                parts.put_nowait(self._exit_error)
            self._streams.clear()
            self._on_exit(self, returncode)


async def spawn_worker(
    key: Key,
    config: dict[str, Any],
    ready_within: float,
    on_exit: Callable[[WorkerProcess, int], None],
    *,
    sandbox: Sandbox | None = None,
    spec: SandboxSpec | None = None,
    max_frame: int = MAX_WORKER_FRAME,
) -> WorkerProcess:
    """Start a worker (confined by ``sandbox``) and wait until it is ready; StartFailed names
    the cause otherwise. Frames from it over ``max_frame`` bytes fail it."""
    label = f"model '{key[0]}' {key[1]}"
    sandbox = sandbox or NoSandbox()
    spec = spec or SandboxSpec()
    ours, theirs = socket.socketpair()
    started = time.perf_counter()
    argv = [sys.executable, "-m", WORKER_PROGRAM, "--fd", str(theirs.fileno())]
    argv += ["--config", json.dumps(config)]
    try:
        process = await asyncio.create_subprocess_exec(
            *sandbox.command(argv, spec),
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=_worker_env(sandbox, spec),
            # its own session (so its own process group): a terminal's Ctrl-C goes to the
            # gateway, which stops the workers itself, and killing the group takes the model's
            # own subprocesses along. (Not process_group=0: uvloop, the server's loop, refuses it.)
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        raise StartFailed(f"{label}: cannot start its worker process: {exc}") from exc
    finally:
        theirs.close()
    try:
        reader, frames = await open_channel(ours, trusted=False, limit=max_frame)
        try:
            frame = await asyncio.wait_for(reader.read(), ready_within)
        except TimeoutError:
            frame = ("timeout",)
    except BaseException as exc:  # cancelled (shutdown) or the channel broke: no process left
        ours.close()
        await _reap(process, 0)
        if isinstance(exc, ProtocolError):
            raise StartFailed(
                f"{label}: its worker sent a bad frame while starting: {exc}"
            ) from exc
        raise
    if frame is not None and frame[0] == "ready":
        cold = time.perf_counter() - started
        return WorkerProcess(
            key,
            process,
            reader=reader,
            frames=frames,
            cold_start=cold,
            on_exit=on_exit,
        )
    frames.close()
    grace = {None: 1.0, "timeout": 0.0}.get(frame[0] if frame else None, STOP_GRACE)
    returncode = await _reap(process, grace)
    if frame is None:
        raise StartFailed(f"{label}: its worker {describe_exit(returncode)} while starting")
    if frame[0] == "timeout":
        raise StartFailed(
            f"{label} did not become ready within {ready_within:g} s (import and warm)"
        )
    if frame[0] == "failed" and len(frame) > 1:
        raise StartFailed(str(frame[1]))
    raise StartFailed(f"{label}: its worker answered {frame[0]!r} instead of ready")
