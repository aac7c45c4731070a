"""One catalog module version in its own process: ``python -m modelport.apps.worker``.

Started by the gateway's :class:`~modelport.gateway.pool.ModelPool` (see
:mod:`modelport.gateway.process`) with one end of a private socketpair (``--fd``) and its
configuration (``--config`` JSON: module, version, load spec, the directory of its artifacts
(fetched by the gateway; a Ray replica fetches them itself), its state directory, limits — never
credentials, the command line is public), usually inside a sandbox (:mod:`modelport.sandbox`).
Before any module code is imported it limits its own memory (``RLIMIT_AS``, which module code
cannot raise again); it then loads and warms the model behind the same app ``modelport serve``
builds (:func:`start_app`, which a Ray Serve replica runs too), answers ``ready`` (or
``failed``, naming the cause), and serves request frames concurrently with the gateway's
:class:`~modelport.gateway.worker.RequestServer`. It dies with the gateway (Linux PDEATHSIG;
bwrap's --die-with-parent in the sandbox) and exits when its socket closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from modelport.contract.typed import MODEL_DIR_ENV
from modelport.errors import ModelLoadError, ModelportError, NotFound, StartFailed
from modelport.gateway.artifacts import materialize
from modelport.gateway.protocol import open_channel
from modelport.gateway.worker import (
    ASGIApp,
    RequestServer,
    die_with_parent,
    limit_memory,
)
from modelport.storage.paths import model_version_dir

# -- starting ------------------------------------------------------------------------------------


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    if isinstance(cause, ModelportError) and cause is exc:
        return cause.message
    return f"{type(cause).__name__}: {cause}"


async def start_app(config: dict[str, Any], stack: AsyncExitStack) -> tuple[ASGIApp, float]:
    """Fetch artifacts, load and warm the model; return its app and the warm seconds."""
    from modelport.apps.model import model_app
    from modelport.contract import discovery
    from modelport.settings import Settings

    module, version = config["module"], config["version"]
    spec, package = config.get("load_spec"), config.get("package")
    label = f"module '{module}' {version}"
    code = f"load spec '{spec}', package '{package or 'unknown'}'"
    if not spec:
        raise StartFailed(f"{label} cannot be served: its catalog entry names no load spec")
    if config.get("model_dir"):  # fetched by the gateway, visible read-only here
        model_dir = Path(config["model_dir"])
    else:  # a Ray Serve replica fetches them itself, on its node
        target = model_version_dir(Path(config["data_dir"]), module, version)
        try:
            model_dir = await asyncio.to_thread(
                materialize, config["artifacts_url"], config["artifacts"], target
            )
        except ModelportError as exc:
            raise StartFailed(f"{label}: its artifacts cannot be fetched: {exc.message}") from exc
    # what module code reads of its own directories (legacy modules cannot call artifact())
    os.environ[MODEL_DIR_ENV] = str(model_dir)
    if "gpus" in config:  # the GPUs the gateway gave this worker (gateway/slots.py), only them
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(config["gpus"])
    # where the module keeps caches and state: its own directory (the data dir on Ray)
    os.environ["MODELPORT_DATA_DIR"] = str(config.get("state_dir") or config["data_dir"])
    try:
        model = discovery.load(spec, artifacts=model_dir)
    except NotFound as exc:
        raise StartFailed(f"{label}: its code ({code}) is not installed here: {exc}") from exc
    except ModelLoadError as exc:
        if isinstance(exc.__cause__, ImportError | SyntaxError):
            reason = "cannot be imported here"
        else:
            reason = "cannot be loaded"
        raise StartFailed(f"{label}: its code ({code}) {reason}: {_cause(exc)}") from exc
    model.name = module  # routes read /v2/models/<module>/..., whatever the class calls itself
    app = model_app(Settings(**config["settings"]), [model])
    started = time.perf_counter()
    try:
        await stack.enter_async_context(app.router.lifespan_context(app))
    except ModelLoadError as exc:
        raise StartFailed(f"{label} ({code}) failed to warm: {_cause(exc)}") from exc
    return app, time.perf_counter() - started


# -- serving -------------------------------------------------------------------------------------


async def run(fd: int, config: dict[str, Any]) -> int:
    """Start the model, answer ready or failed, then serve frames until the socket closes."""
    reader, frames = await open_channel(socket.socket(fileno=fd), trusted=True)
    async with AsyncExitStack() as stack:
        try:
            app, warm_seconds = await start_app(config, stack)
        except StartFailed as exc:
            await frames.send(("failed", str(exc)))
            return 1
        except Exception as exc:
            label = f"module '{config.get('module')}' {config.get('version')}"
            await frames.send(("failed", f"{label} cannot start: {type(exc).__name__}: {exc}"))
            return 1
        await frames.send(("ready", warm_seconds))
        server = RequestServer(app, frames, config["module"])
        while (frame := await reader.read()) is not None:
            server.dispatch(frame)
        for task in list(server.tasks):
            task.cancel()
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="python -m modelport.apps.worker")
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
