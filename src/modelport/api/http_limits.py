"""The HTTP server's own limits, which uvicorn does not have (slow loris, huge headers, stalled
bodies, too many connections): :func:`guarded_http`, the protocol ``run_uvicorn`` serves with."""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from modelport.settings import Settings

log = logging.getLogger(__name__)

#: Seconds a refused connection stays half-open, its input discarded, so the client reads the
#: refusal (closing with unread input would send a reset that can destroy it).
_LINGER = 1.0


def _answer(status: int, message: str) -> bytes:
    """A whole HTTP response: a JSON error that closes the connection."""
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _refusing_app(status: int, message: str, retry_after: int | None = None) -> Any:
    """An ASGI app answering every request ``status`` (JSON), closing the connection."""
    body = json.dumps({"message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))

    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return refuse


def guarded_http(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools) plus the limits uvicorn does not have.

    uvicorn reads a request's headers and body for as long as the client takes and as large as
    it sends them, and takes every connection. Here: ``header_timeout`` seconds from a
    connection (or a request's first byte) to the end of its headers, else 408 and close (slow
    loris); about ``max_header_size`` bytes of request line and headers, else 431 and close; a
    body that stalls ``body_timeout`` seconds while the server waits for it drops the
    connection; over ``max_connections`` open connections, requests answer 503 (Retry-After)
    and their connection closes.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    header_timeout, body_timeout = settings.header_timeout, settings.body_timeout
    max_header_size, max_connections = settings.max_header_size, settings.max_connections
    over_capacity = _refusing_app(
        503,
        f"the server has too many open connections (max_connections {max_connections}): "
        "retry in a moment",
        retry_after=1,
    )
    headers_too_large = _refusing_app(
        431, f"the request line and headers exceed {max_header_size} bytes (max_header_size)"
    )

    class GuardedHttpProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self.awaiting_headers = True
            self.header_bytes = 0  # bytes received while awaiting headers (they may trickle)
            self.header_size = 0  # the request line and headers parsed so far
            self.discarding = False
            self.header_timer: asyncio.TimerHandle | None = None
            self.body_timer: asyncio.TimerHandle | None = None
            self._arm_header_timer()
            if len(self.connections) > max_connections:
                self.app = over_capacity  # this connection's requests: 503, then close

        def connection_lost(self, exc: Exception | None) -> None:
            for timer in (self.header_timer, self.body_timer):
                if timer is not None:
                    timer.cancel()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.discarding:
                return
            if self.awaiting_headers:
                self.header_bytes += len(data)
            super().data_received(data)
            if self.awaiting_headers and self.header_bytes > max_header_size:
                limit = f"{max_header_size} bytes (max_header_size)"
                self._refuse(431, f"the request line and headers exceed {limit}")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.awaiting_headers = True
            self.header_size = 0
            if self.header_timer is None:
                self._arm_header_timer()

        def on_url(self, url: bytes) -> None:
            self.header_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self.header_size += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self.awaiting_headers = False
            self.header_bytes = 0
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None
            if self.header_size > max_header_size:  # arrived whole: answered as a request
                self.app = headers_too_large  # ... that closes the connection
            super().on_headers_complete()
            self.body_timer = self.loop.call_later(body_timeout, self._body_stalled)

        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            if self.body_timer is not None:
                self.body_timer.cancel()
                self.body_timer = self.loop.call_later(body_timeout, self._body_stalled)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            if self.body_timer is not None:
                self.body_timer.cancel()
                self.body_timer = None

        def _arm_header_timer(self) -> None:
            self.header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _headers_late(self) -> None:
            self.header_timer = None
            if self.transport.is_closing():
                return
            if self.flow.read_paused:  # our side is not reading (pipelined requests wait)
                self._arm_header_timer()
                return
            if not self.header_bytes:  # an idle connection: nothing to answer
                self.transport.close()
                return
            limit = f"{header_timeout:g} s (header_timeout)"
            self._refuse(408, f"the request's headers did not arrive within {limit}")

        def _body_stalled(self) -> None:
            self.body_timer = None
            if self.transport.is_closing():
                return
            if self.flow.read_paused:  # the app is behind, not the client
                self.body_timer = self.loop.call_later(body_timeout, self._body_stalled)
                return
            log.debug("dropping %s: its request body stalled %g s", self.client, body_timeout)
            self.transport.close()  # the app, if it waits for the body, sees a disconnect

        def _refuse(self, status: int, message: str) -> None:
            """Answer ``status`` (unless a response is under way) and close the connection."""
            log.debug("refusing %s: %s", self.client, message)
            if self.cycle is not None and not self.cycle.response_complete:
                self.transport.close()
                return
            self.transport.write(_answer(status, message))
            self.discarding = True
            self.awaiting_headers = False
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(_LINGER, self.transport.close)

    return GuardedHttpProtocol
