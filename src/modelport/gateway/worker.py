"""One catalog module version in its own process: ``python -m modelport.gateway.worker``.

Started by the gateway's :class:`~modelport.gateway.pool.ModelPool` with one end of a private
socketpair (``--fd``) and its configuration (``--config`` JSON: module, version, load spec,
the directory of its artifacts (fetched by the gateway; a Ray replica fetches them itself),
its state directory, limits — never credentials, the command line is public), usually inside a
sandbox (:mod:`modelport.sandbox`). Before any module code is imported it limits its own memory
(``RLIMIT_AS``, which module code cannot raise again); it then loads and warms the model behind
the same app ``modelport serve`` builds, answers ``ready`` (or ``failed``, naming the cause), and
serves request frames concurrently by calling that app directly. It dies with the gateway
(Linux PDEATHSIG; bwrap's --die-with-parent in the sandbox) and exits when its socket closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from modelport.contract.base import RawArgs
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.errors import ModelError, ModelLoadError, ModelportError, NotFound
from modelport.gateway.artifacts import materialize
from modelport.gateway.protocol import FrameWriter, read_frame
from modelport.storage.paths import model_version_dir

log = logging.getLogger(__name__)

#: The gateway's pid, so a worker whose gateway died before prctl took effect exits at once.
PARENT_ENV = "MODELPORT_GATEWAY_PARENT"
_PR_SET_PDEATHSIG = 1

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


class StartFailure(Exception):
    """The model could not be made ready; the message names the module, version and cause."""


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


# -- starting ------------------------------------------------------------------------------------


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    if isinstance(cause, ModelportError) and cause is exc:
        return cause.message
    return f"{type(cause).__name__}: {cause}"


async def start_app(config: dict[str, Any], stack: AsyncExitStack) -> tuple[ASGIApp, float]:
    """Fetch artifacts, load and warm the model; return its app and the warm seconds."""
    from modelport.api import create_app
    from modelport.api.docs import install_openapi
    from modelport.contract import discovery
    from modelport.runtime import ModelRuntime
    from modelport.runtime.metrics import ServingMetrics
    from modelport.settings import Settings

    module, version = config["module"], config["version"]
    spec, package = config.get("load_spec"), config.get("package")
    label = f"module '{module}' {version}"
    code = f"load spec '{spec}', package '{package or 'unknown'}'"
    if not spec:
        raise StartFailure(f"{label} cannot be served: its catalog entry names no load spec")
    if config.get("model_dir"):  # fetched by the gateway, visible read-only here
        model_dir = Path(config["model_dir"])
    else:  # a Ray Serve replica fetches them itself, on its node
        target = model_version_dir(Path(config["data_dir"]), module, version)
        try:
            model_dir = await asyncio.to_thread(
                materialize, config["artifacts_url"], config["artifacts"], target
            )
        except ModelportError as exc:
            raise StartFailure(f"{label}: its artifacts cannot be fetched: {exc.message}") from exc
    os.environ[MODEL_DIR_ENV] = str(model_dir)
    # where the module keeps caches and state: its own directory (the data dir on Ray)
    os.environ["MODELPORT_DATA_DIR"] = str(config.get("state_dir") or config["data_dir"])
    try:
        model = discovery.load(spec)
    except NotFound as exc:
        raise StartFailure(f"{label}: its code ({code}) is not installed here: {exc}") from exc
    except ModelLoadError as exc:
        if isinstance(exc.__cause__, ImportError | SyntaxError):
            reason = "cannot be imported here"
        else:
            reason = "cannot be loaded"
        raise StartFailure(f"{label}: its code ({code}) {reason}: {_cause(exc)}") from exc
    model.name = module  # routes read /v2/models/<module>/..., whatever the class calls itself
    settings = Settings(**config["settings"])
    runtime = ModelRuntime([model], settings, ServingMetrics())
    app = create_app(settings, runtime)
    # The platform trains catalog modules (its own routes, validated by this worker), so the
    # module's document describes its training operation too: the dashboard builds its form.
    install_openapi(app, runtime, settings)
    started = time.perf_counter()
    try:
        await stack.enter_async_context(app.router.lifespan_context(app))
    except ModelLoadError as exc:
        raise StartFailure(f"{label} ({code}) failed to warm: {_cause(exc)}") from exc
    return app, time.perf_counter() - started


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
                error_id = _new_error_id()
                log.exception("error %s: the app failed on %s", error_id, scope.get("path"))
        finally:
            response_done.set()
            self.bodies.pop(rid, None)
        if not started:
            if error_id is None:
                error_id = _new_error_id()
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


def _new_error_id() -> str:
    from modelport.api.errors import new_error_id  # loaded by now: the app is built on it

    return new_error_id()


async def run(fd: int, config: dict[str, Any]) -> int:
    """Start the model, answer ready or failed, then serve frames until the socket closes."""
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    frames = FrameWriter(writer)
    async with AsyncExitStack() as stack:
        try:
            app, warm_seconds = await start_app(config, stack)
        except StartFailure as exc:
            await frames.send(("failed", str(exc)))
            return 1
        except Exception as exc:
            label = f"module '{config.get('module')}' {config.get('version')}"
            await frames.send(("failed", f"{label} cannot start: {type(exc).__name__}: {exc}"))
            return 1
        await frames.send(("ready", warm_seconds))
        server = RequestServer(app, frames, config["module"])
        while (frame := await read_frame(reader, trusted=True)) is not None:
            server.dispatch(frame)
        for task in list(server.tasks):
            task.cancel()
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="python -m modelport.gateway.worker")
    parser.add_argument("--fd", type=int, required=True, help="our end of the gateway's socket")
    parser.add_argument("--config", required=True, help="the module version to serve (JSON)")
    args = parser.parse_args(argv)
    die_with_parent()
    config = json.loads(args.config)
    limit_memory(config.get("memory_mb"))
    logging.basicConfig(
        level=logging.DEBUG if config.get("settings", {}).get("debug") else logging.INFO,
        format=f"%(asctime)s modelport worker {config.get('module')} {config.get('version')} "
        f"[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    import uvloop  # the serving stack's loop (uvicorn's too): cheaper per request than asyncio's

    uvloop.install()
    code = asyncio.run(run(args.fd, config))
    sys.stdout.flush()
    sys.stderr.flush()
    # not sys.exit: a prediction still running in a thread must not keep an unloaded worker alive
    os._exit(code)


if __name__ == "__main__":
    main()
