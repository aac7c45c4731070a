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

    def dispatch(self, frame: tuple[Any, ...]) -> None:
        """Start answering one frame (a "body" frame feeds a request already started)."""
        if frame[0] == "body":
            queue = self.bodies.get(frame[1])
            if queue is not None:
                queue.put_nowait(frame[2])
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
        task.add_done_callback(self.tasks.discard)

    async def http(
        self, rid: int, scope: dict[str, Any], body: bytes | None, streamed: bool
    ) -> None:
        """Run one HTTP request through the app and send its response back."""
        response_done = asyncio.Event()
        started: dict[str, Any] = {}
        parts: list[bytes] = []
        stream = self.bodies.get(rid) if streamed else None
        body_left = body is not None or stream is not None

        async def receive() -> Message:
            nonlocal body_left
            if not body_left:
                await response_done.wait()
                return {"type": "http.disconnect"}
            if stream is None:
                body_left = False
                return {"type": "http.request", "body": body or b"", "more_body": False}
            chunk = await stream.get()  # b"" ends the body
            body_left = bool(chunk)
            return {"type": "http.request", "body": chunk, "more_body": body_left}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                parts.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    response_done.set()

        full_scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "http",
            "root_path": "",
            "state": {},
            **scope,
        }
        error_id = None
        try:
            await self.app(full_scope, receive, send)
        except Exception:
            if not response_done.is_set():  # else the app's error handler answered and logged
                error_id = new_error_id()
                log.exception("error %s: the app failed on %s", error_id, scope.get("path"))
        finally:
            response_done.set()
            self.bodies.pop(rid, None)
        if not started:
            if error_id is None:
                error_id = new_error_id()
                log.error("error %s: the app gave no answer on %s", error_id, scope.get("path"))
            status, headers = 500, [(b"content-type", b"application/json")]
            message = f"internal server error (error id {error_id})"
            parts = [json.dumps({"message": message, "error_id": error_id}).encode()]
        else:
            status, headers = started["status"], [tuple(h) for h in started.get("headers", [])]
        await self._reply(("response", rid, status, headers, b"".join(parts)))

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
