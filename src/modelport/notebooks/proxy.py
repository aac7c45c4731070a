"""Requests and WebSockets to a notebook's JupyterLab, over its Unix socket.

What the browser sent goes upstream without what is the platform's: its session cookie, its
``Authorization``, hop-by-hop headers, and with ``Host: localhost`` (Jupyter refuses other
hosts) and Jupyter's own token, which the browser never holds. What comes back loses
``Set-Cookie`` (Jupyter's cookies would live on the platform's origin) and hop-by-hop headers,
and is streamed as it arrives. A WebSocket (a kernel's channels) is opened upstream with the
browser's subprotocols first, then accepted with the one Jupyter chose, and frames are pumped
both ways until either side closes.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
from starlette.websockets import WebSocketDisconnect

#: Never forwarded either way (RFC 9110 hop-by-hop), nor the platform's credentials upstream.
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
NOT_UPSTREAM: Final = HOP_BY_HOP | {"cookie", "authorization", "origin", "referer"}
NOT_DOWNSTREAM: Final = HOP_BY_HOP | {"set-cookie"}
#: What a rewritten page no longer has (its length and encoding change).
PAGE_HEADERS: Final = frozenset({"content-length", "content-encoding"})
#: A page is read whole to be rewritten: at most this much (JupyterLab's are a few KiB).
MAX_PAGE: Final = 4 * 1024 * 1024
#: Clients kept open (one per notebook socket), least recently used closed first.
MAX_CLIENTS: Final = 64


class UpstreamUnavailable(Exception):
    """The notebook's JupyterLab does not answer (starting, stopping, gone)."""


def upstream_headers(headers: Iterable[tuple[str, str]], token: str) -> dict[str, str]:
    """The request's headers as JupyterLab gets them."""
    kept = {k: v for k, v in headers if k.lower() not in NOT_UPSTREAM}
    kept["Host"] = "localhost"
    kept["Authorization"] = f"token {token}"
    return kept


def downstream_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    """JupyterLab's answer's headers as the browser gets them."""
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in NOT_DOWNSTREAM]


#: JupyterLab's own pages (the first segment after the notebook's prefix), whose config holds
#: the token; a user's files (``files/``, ``view/``) pass untouched.
APP_PAGES: Final = frozenset({"lab", "doc", "tree"})


def is_page(path: str, answer: httpx.Response) -> bool:
    """Whether an answer is one of JupyterLab's HTML pages (``path``: after the prefix)."""
    html = str(answer.headers.get("content-type", "")).startswith("text/html")
    return html and path.split("/", 1)[0] in APP_PAGES


async def page_without_token(answer: httpx.Response, token: str) -> bytes:
    """An HTML answer's body (decoded), read whole and closed, with every copy of ``token``
    removed: JupyterLab's page config holds it, and the browser needs none (the proxy adds it
    to each request)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > MAX_PAGE:
                raise UpstreamUnavailable("a JupyterLab page larger than 4 MiB")
            chunks.append(chunk)
    finally:
        await answer.aclose()
    return b"".join(chunks).replace(token.encode(), b"")


class NotebookProxy:
    """HTTP clients on notebooks' sockets, kept between requests."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._clients: OrderedDict[Path, httpx.AsyncClient] = OrderedDict()

    async def _client(self, socket: Path) -> httpx.AsyncClient:
        client = self._clients.pop(socket, None)
        if client is None:
            client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=str(socket)),
                base_url="http://localhost",
                timeout=httpx.Timeout(self.timeout, connect=5.0),
            )
        self._clients[socket] = client
        while len(self._clients) > MAX_CLIENTS:
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    async def send(
        self,
        socket: Path,
        method: str,
        target: str | httpx.URL,
        headers: dict[str, str],
        body: AsyncIterator[bytes] | None,
    ) -> httpx.Response:
        """Send one request upstream; its answer, unread (stream it, then close it)."""
        client = await self._client(socket)
        request = client.build_request(method, target, headers=headers, content=body)
        try:
            return await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(str(exc)) from exc

    async def close(self) -> None:
        """Close every client (the app stops)."""
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()


async def pump_websocket(browser: Any, upstream: Any) -> None:
    """Frames both ways until either side closes, then close the other (Starlette's
    WebSocket ``browser``, a websockets connection ``upstream``; ``websockets`` is the
    ``notebooks`` extra's, imported here)."""
    from websockets.exceptions import ConnectionClosed

    async def down() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                if isinstance(frame, str):
                    await browser.send_text(frame)
                else:
                    await browser.send_bytes(frame)
        code = upstream.close_code if upstream.close_code not in (None, 1005, 1006) else 1000
        with contextlib.suppress(Exception):
            await browser.close(code)

    async def up() -> None:
        while True:
            message = await browser.receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close()
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    ended = (ConnectionClosed, WebSocketDisconnect, RuntimeError, OSError)  # either side gone
    async with anyio.create_task_group() as group:

        async def first_then_cancel(side: Any) -> None:
            try:
                with contextlib.suppress(*ended):
                    await side()
            finally:
                group.cancel_scope.cancel()

        group.start_soon(first_then_cancel, down)
        group.start_soon(first_then_cancel, up)
