"""The worker's side of the gateway protocol: request frames answered by a module version's app.

:class:`RequestServer` runs each ``http`` or ``prepare_train`` frame through the app, one task
per request, and sends the reply frame back; the worker process (:mod:`modelport.apps.worker`,
which loads and warms the app) and a Ray Serve replica (:mod:`modelport.gateway.ray_serve`) both
answer with it. Also what every worker does first, before module code loads: die with the
gateway, and cap its own memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import resource
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from contextlib import AsyncExitStack
from typing import Any

from modelport.contract.base import RawArgs
from modelport.errors import ModelError, ModelportError, new_error_id
from modelport.gateway.protocol import FrameWriter

log = logging.getLogger(__name__)

#: The gateway's pid, so a worker whose gateway died before prctl took effect exits at once.
PARENT_ENV = "MODELPORT_GATEWAY_PARENT"
_PR_SET_PDEATHSIG = 1

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
#: Loads and warms a module version from its worker configuration, entering the app's lifespan
#: on the stack; gives the app and the warm seconds (``modelport.apps.worker.start_app``).
AppStarter = Callable[[dict[str, Any], AsyncExitStack], Awaitable[tuple[ASGIApp, float]]]


def die_with_parent() -> None:
    """On Linux, get SIGTERM when the gateway dies, so no worker outlives it.

    The same as ``modelport.jobs.worker.die_with_parent``, repeated here because importing that
    module loads the job stack (SQLAlchemy), which would add about a second to every cold start.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the gateway died before prctl took effect
        raise SystemExit(1)


def limit_memory(megabytes: int | None) -> None:
    """Cap this process's address space (soft and hard: module code cannot raise it again)."""
    if megabytes:
        size = int(megabytes) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


# -- serving -------------------------------------------------------------------------------------


class RequestServer:
    """Answers request frames by calling the model's app, one task per request."""

    def __init__(self, app: Any, frames: FrameWriter, module: str) -> None:
        self.app = app
        self.frames = frames
        self.module = module
        self.tasks: set[asyncio.Task[None]] = set()
        #: the bodies still arriving in "body" frames, by request id
        self.bodies: dict[int, asyncio.Queue[bytes]] = {}
        #: the requests being answered, by id (a "cancel" frame stops one)
        self.running: dict[int, asyncio.Task[None]] = {}
        # predictions skip the app's routing and middleware: its predict endpoint answers them
        state: Any = getattr(app, "state", None)
        self._predict = getattr(state, "predict", None)
        self._predict_paths: set[str] = set()
        if self._predict is not None:
            base = state.settings.base_path
            self._predict_paths = {f"{base}/v2/models/{module}/predict{e}" for e in ("", "/")}

    def dispatch(self, frame: tuple[Any, ...]) -> None:
        """Start answering one frame (a "body" frame feeds a request already started, a
        "cancel" frame stops one: its caller went away)."""
        if frame[0] == "body":
            queue = self.bodies.get(frame[1])
            if queue is not None:
                queue.put_nowait(frame[2])
            return
        if frame[0] == "cancel":
            running = self.running.get(frame[1])
            if running is not None:
                running.cancel()
            return
        if frame[0] == "http" and frame[4]:  # its body follows in "body" frames
            self.bodies[frame[1]] = asyncio.Queue()
        handlers: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
            "http": self.http,
            "prepare_train": self.prepare_train,
        }
        handler = handlers.get(frame[0])
        if handler is None:
            log.error("unknown frame %r from the gateway", frame[0])
            return
        task = asyncio.create_task(handler(*frame[1:]))
        self.tasks.add(task)
        self.running[frame[1]] = task
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(functools.partial(self._finished, frame[1]))

    async def http(
        self, rid: int, scope: dict[str, Any], body: bytes | None, streamed: bool
    ) -> None:
        """Run one HTTP request through the app and send its response back: one "response"
        frame, or, for a body sent in parts (a stream), "start", "chunk"s and "end"."""
        exchange = _Exchange(self, rid, body, self.bodies.get(rid) if streamed else None)
        target, full = self.app, _full_scope(scope)
        if scope.get("method") == "POST" and scope.get("path") in self._predict_paths:
            target = self._predict
            full.update(path_params={"name": self.module}, app=self.app)
        error_id = None
        try:
            await target(full, exchange.receive, exchange.send)
        except Exception:
            if not exchange.done.is_set():  # else the app's error handler answered and logged
                error_id = new_error_id()
                log.exception("error %s: the app failed on %s", error_id, scope.get("path"))
        finally:
            exchange.done.set()
            self.bodies.pop(rid, None)
            if exchange.streaming:  # done, or cut short (cancelled, failed): the gateway ends it
                await self._reply(("end", rid))
        if not exchange.streaming:
            await self._reply(exchange.answer(error_id, scope.get("path")))

    def _finished(self, rid: int, _task: asyncio.Task[None]) -> None:
        self.running.pop(rid, None)

    async def prepare_train(self, rid: int, raw: RawArgs) -> None:
        """Validate training arguments with the model's own code."""
        runtime = self.app.state.runtime
        try:
            args = runtime.get(self.module).model.prepare_train(raw)
        except ModelportError as exc:
            await self._reply(("error", rid, exc))
        except Exception as exc:  # the gateway logs it (traceback and error id) and answers 500
            await self._reply(("error", rid, ModelError.raised(exc, traceback.format_exc())))
        else:
            await self._reply(("prepared", rid, (args.args, args.shown)))

    async def _reply(self, frame: tuple[Any, ...]) -> None:
        with contextlib.suppress(ConnectionError):  # the gateway is gone: we exit anyway
            await self.frames.send(frame)


def _full_scope(scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "http",
        "root_path": "",
        "state": {},
        **scope,
    }


class _Exchange:
    """One request through the app: its body in, its response out (whole, or in parts)."""

    def __init__(
        self,
        server: RequestServer,
        rid: int,
        body: bytes | None,
        stream: asyncio.Queue[bytes] | None,
    ) -> None:
        self.server = server
        self.rid = rid
        self.done = asyncio.Event()
        self.started: dict[str, Any] = {}
        self.parts: list[bytes] = []
        #: whether the body goes back in parts ("start", "chunk"s, "end")
        self.streaming = False
        self._body = body
        self._stream = stream
        self._body_left = body is not None or stream is not None

    async def receive(self) -> Message:
        if not self._body_left:
            await self.done.wait()
            return {"type": "http.disconnect"}
        if self._stream is None:
            self._body_left = False
            return {"type": "http.request", "body": self._body or b"", "more_body": False}
        chunk = await self._stream.get()  # b"" ends the body
        self._body_left = bool(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self._body_left}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started.update(message)
            return
        if message["type"] != "http.response.body":
            return
        chunk, more = bytes(message.get("body", b"")), message.get("more_body", False)
        if more and not self.streaming:  # a body in parts: each goes on as it comes
            self.streaming = True
            headers = [tuple(h) for h in self.started.get("headers", [])]
            await self.server._reply(("start", self.rid, self.started["status"], headers))
        if not self.streaming:
            self.parts.append(chunk)
        elif chunk:
            await self.server._reply(("chunk", self.rid, chunk))
        if not more:
            self.done.set()

    def answer(self, error_id: str | None, path: object) -> tuple[Any, ...]:
        """The one "response" frame of a response sent whole (a 500 if the app gave none)."""
        if self.started:
            headers = [tuple(h) for h in self.started.get("headers", [])]
            return ("response", self.rid, self.started["status"], headers, b"".join(self.parts))
        if error_id is None:
            error_id = new_error_id()
            log.error("error %s: the app gave no answer on %s", error_id, path)
        message = f"internal server error (error id {error_id})"
        content = json.dumps({"message": message, "error_id": error_id}).encode()
        return ("response", self.rid, 500, [(b"content-type", b"application/json")], content)
