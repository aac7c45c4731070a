"""A streaming model's prediction as an HTTP stream: NDJSON, or Server-Sent Events.

The caller's ``Accept`` picks the format: ``text/event-stream`` gets SSE (each item a ``data:``
event, then ``event: end``), anything else NDJSON (``application/x-ndjson``, one JSON item per
line). What fails before the first item is an ordinary error answer (422, 500, 503, 504); what
fails later ends the stream with an error item, ``{"error": {...}, "status": 500}`` (the SSE
event is named ``error``), the error body being the one an ordinary answer would carry. When
the client disconnects, the model stops at its next item (see ``runtime/streaming.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from modelport.api.errors import error_response
from modelport.contract.streaming import SSE, choose_stream_format, frame
from modelport.errors import ModelportError
from modelport.runtime.runner import InputHolder, ModelRunner

#: Proxies must pass each item on as it comes.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def stream_response(
    runner: ModelRunner,
    kwargs: dict[str, Any],
    inputs: InputHolder,
    accept: str | None,
    debug: bool,
) -> Response:
    """Start the model's stream and answer with it once its first item (or end) is there;
    ``inputs`` (the request's uploads) are kept until the stream ends."""
    media_type = choose_stream_format(accept)
    label = f"stream of model '{runner.name}'"
    items = runner.stream(kwargs)
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    inputs.hold_until(finished)
    try:
        first = await anext(items, None)
    except BaseException:
        await items.aclose()
        finished.set_result(None)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield frame(media_type, first)
            async for item in items:
                yield frame(media_type, item)
            if media_type == SSE:
                yield frame(SSE, b"{}", "end")
        except ModelportError as exc:
            yield frame(media_type, _error_item(exc, debug, label), "error")
        finally:
            await items.aclose()
            finished.set_result(None)

    return StreamingResponse(body(), media_type=media_type, headers=STREAM_HEADERS)


def _error_item(exc: ModelportError, debug: bool, label: str) -> bytes:
    """The error that ends a stream, with the body an ordinary error answer would have."""
    answer = error_response(exc, debug, label)
    body = json.loads(bytes(answer.body))
    return json.dumps({"error": body, "status": answer.status_code}).encode()
