"""A worker answers prediction frames with the app's predict endpoint directly (no routing or
middleware on its private channel), and everything else with the whole app: same answers."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from modelport.api.app import create_app
from modelport.contract.discovery import load
from modelport.gateway.protocol import FrameWriter, read_frame
from modelport.gateway.worker import RequestServer
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings


class Spy:
    """The worker's app, counting the requests that reach it as a whole."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


async def ask(server: RequestServer, reader: asyncio.StreamReader, frame: tuple[Any, ...]) -> Any:
    server.dispatch(frame)
    return await asyncio.wait_for(read_frame(reader, trusted=False), 10)


async def test_predictions_skip_the_app_and_answer_the_same() -> None:
    settings = Settings(allowed_hosts=["*"])
    runtime = ModelRuntime([load("echo")], settings, ServingMetrics())
    runtime.mark_ready()
    spy = Spy(create_app(settings, runtime))
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    _, worker_writer = await asyncio.open_connection(sock=theirs)
    server = RequestServer(spy, FrameWriter(worker_writer), "echo")
    headers = [(b"content-type", b"application/json"), (b"host", b"worker")]
    scope = {"method": "POST", "headers": headers, "query_string": b""}
    try:
        predict = {**scope, "path": "/v2/models/echo/predict/"}
        body = json.dumps({"text": "hi", "times": 2}).encode()
        _, _, status, _, content = await ask(server, reader, ("http", 1, predict, body, False))
        assert status == 200
        assert json.loads(content)["text"] == "hihi"
        _, _, status, _, content = await ask(server, reader, ("http", 2, predict, b"{}", False))
        assert status == 422
        assert json.loads(content) == {"text": ["Missing data for required field."]}
        assert spy.calls == 0  # predictions went straight to the predict endpoint

        document = {**scope, "method": "GET", "path": "/v2/models/echo/"}
        _, _, status, _, content = await ask(server, reader, ("http", 3, document, b"", False))
        assert status == 200
        assert json.loads(content)["name"] == "echo"
        assert spy.calls == 1  # the rest goes through the whole app
    finally:
        writer.close()
        worker_writer.close()
        runtime.close()
