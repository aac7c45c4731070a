"""Request bodies for the model pool, read within ``max_upload_size`` before a worker sees them.

Up to ``INLINE_BODY_LIMIT`` (1 MiB) a body travels inline in the request frame; a larger one is
spooled to a private temporary file (0600) whose path travels instead, and which the pool
deletes (``Body.discard``) once the response is back, whatever happened. A body over the limit
(declared by ``Content-Length`` or found while reading) is PayloadTooLarge, and leaves no file
behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.errors import BadRequest, PayloadTooLarge
from modelport.gateway.process import Headers

#: Bodies up to this size travel inside the request frame; larger ones through a spooled file.
INLINE_BODY_LIMIT = 1024 * 1024


@dataclass
class Body:
    """A request body: inline bytes, or the path of the spooled file holding it."""

    inline: bytes | None
    path: str | None

    def discard(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


async def read_body(
    headers: Headers, chunks: AsyncIterable[bytes], limit: int, spool_dir: Path | None
) -> Body:
    """The body of a request: at most ``limit`` bytes, spooled under ``spool_dir`` (None: the
    system's temporary directory) when larger than ``INLINE_BODY_LIMIT``."""
    declared = next((v for k, v in headers if k.lower() == b"content-length"), None)
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(limit)
        except ValueError:
            raise BadRequest("invalid Content-Length header") from None
    parts: list[bytes] = []
    size = 0
    spool: Any = None
    path: str | None = None
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            if spool is None and size > INLINE_BODY_LIMIT:
                fd, path = tempfile.mkstemp(prefix="modelport-gateway-", dir=spool_dir)
                spool = os.fdopen(fd, "wb")  # mkstemp: 0600, ours alone
                spool.write(b"".join(parts))
                parts = []
            if spool is not None:
                spool.write(chunk)  # chunks are small (64 KiB); the page cache absorbs them
            else:
                parts.append(chunk)
    except BaseException:
        if spool is not None:
            spool.close()
        Body(None, path).discard()
        raise
    if spool is not None:
        spool.close()
        return Body(None, path)
    return Body(b"".join(parts), None)
