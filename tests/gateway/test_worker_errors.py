"""A worker's own error path: a request its app fails to answer is a 500 with an error id that
its log names, with the traceback, once; never the exception's text."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import pytest

from modelport.gateway.protocol import FrameWriter, read_frame
from modelport.gateway.worker import RequestServer

SCOPE = {"method": "POST", "path": "/v2/models/m/predict/", "headers": [], "query_string": b""}


async def crashing_app(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("cannot open /srv/secret/weights.pt")


async def silent_app(scope: Any, receive: Any, send: Any) -> None:
    return None


async def answer(app: Any) -> tuple[int, dict[str, Any]]:
    """Run one request frame through a RequestServer over a real socketpair."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    _, worker_writer = await asyncio.open_connection(sock=theirs)
    server = RequestServer(app, FrameWriter(worker_writer), "m")
    try:
        server.dispatch(("http", 1, SCOPE, b"", False))
        frame = await asyncio.wait_for(read_frame(reader, trusted=False), 10)
    finally:
        writer.close()
        worker_writer.close()
    assert frame is not None
    kind, rid, status, headers, body = frame
    assert (kind, rid) == ("response", 1)
    assert (b"content-type", b"application/json") in headers
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("app", "logged"),
    [(crashing_app, "the app failed on"), (silent_app, "the app gave no answer on")],
)
async def test_an_unanswered_request_is_a_500_with_an_error_id(
    app: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        status, body = await answer(app)
    assert status == 500
    error_id = body["error_id"]
    assert body == {"message": f"internal server error (error id {error_id})", "error_id": error_id}
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == f"error {error_id}: {logged} /v2/models/m/predict/"
    assert (record.exc_info is not None) == (app is crashing_app)
