"""Streaming in the typed contract: a ``predict`` that returns an iterator streams its items.

Annotate the return as ``Iterator[T]`` (or ``Generator[T, ...]``, ``AsyncIterator[T]``,
``AsyncGenerator[T, ...]``) and ``yield`` the results: each item is validated as ``T`` and sent
as soon as it is produced (Server-Sent Events or NDJSON, as the caller's ``Accept`` asks). The
model's code runs in a worker thread, never on the server's event loop: an async generator is
driven there by a private loop. When the caller goes away, the generator is closed where it
stands (``GeneratorExit`` at its ``yield``, so its ``finally`` runs) and no further item is
produced.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing
from collections.abc import Generator
from typing import Any, get_args, get_origin

_SYNC = (collections.abc.Iterator, collections.abc.Generator)
_ASYNC = (collections.abc.AsyncIterator, collections.abc.AsyncGenerator)

#: Media types of a stream, by what the caller accepts: NDJSON unless it asks for SSE.
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


def stream_item_type(hint: Any) -> Any | None:
    """``T`` when ``hint`` is an iterator of ``T`` (a streaming predict); else None."""
    if hint in (*_SYNC, *_ASYNC):
        return typing.Any
    if get_origin(hint) in (*_SYNC, *_ASYNC):
        args = get_args(hint)
        return args[0] if args else typing.Any
    return None


def iterate(value: Any) -> Generator[Any, None, None]:
    """The items of what a streaming predict returned, synchronously (an async iterator is
    driven by a loop of its own, in the calling thread). Closing this generator closes the
    model's: its ``finally`` runs."""
    if isinstance(value, collections.abc.AsyncIterator):
        yield from _drive(value)
    elif isinstance(value, collections.abc.Iterator):
        yield from value  # close() reaches the model's generator through yield from
    else:
        raise TypeError(f"a streaming predict must return an iterator, not {type(value).__name__}")


def _drive(items: collections.abc.AsyncIterator[Any]) -> Generator[Any, None, None]:
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                item = loop.run_until_complete(anext(items))
            except StopAsyncIteration:
                return
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                loop.run_until_complete(close())
        loop.close()


def wants_stream(accept: str | None) -> bool:
    """Whether a caller gets the items as a stream: unless it asks for JSON only (then it gets
    them all at once, a JSON array, as an unstreamed answer)."""
    if not accept:
        return True
    asked = accept.lower()
    return "application/json" not in asked or NDJSON in asked or SSE in asked


def choose_stream_format(accept: str | None) -> str:
    """SSE when the caller's ``Accept`` names ``text/event-stream``, else NDJSON."""
    return SSE if accept and SSE in accept.lower() else NDJSON


def frame(media_type: str, item: bytes, event: str | None = None) -> bytes:
    """One encoded item (JSON) as a line of NDJSON or an SSE event (``event`` names it)."""
    if media_type == SSE:
        head = f"event: {event}\n".encode() if event else b""
        return head + b"data: " + item + b"\n\n"
    return item + b"\n"
