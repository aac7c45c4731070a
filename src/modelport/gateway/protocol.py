"""The framed IPC protocol between the gateway and its model workers.

Each frame is a 4-byte big-endian length followed by a pickled tuple whose first item names the
message. The channel is a private ``socket.socketpair()``: the gateway keeps one end and passes
the other to the worker it spawns (``pass_fds``), so no other process can connect. Pickle is
therefore safe in the gateway-to-worker direction (the worker trusts its own parent). Frames
coming back from a worker, which runs catalog module code, are read with a restricted unpickler
that only rebuilds modelport's own errors: a module cannot smuggle objects into the gateway,
nor make it buffer more than ``limit`` bytes (``max_worker_frame``, 256 MiB by default): a
larger frame's length prefix is refused before any of it is read (:class:`FrameTooLarge`).

Messages::

    worker → gateway   ("ready", warm_seconds)              the model is loaded and warm
                       ("failed", message)                  it could not be loaded or warmed
    gateway → worker   ("http", id, scope, body, streamed) one HTTP request: its body inline,
                                                            or (streamed) in the frames below
                       ("body", id, chunk)                  the next part of a streamed body
                                                            (b"" ends it)
    worker → gateway   ("response", id, status, headers, body)
                     | ("start", id, status, headers)        or an answer in parts (a stream):
                       ("chunk", id, part) ... ("end", id)  each part as the app sends it
    gateway → worker   ("cancel", id)                       its caller left: stop answering
    gateway → worker   ("prepare_train", id, raw_args)      validate training arguments
    worker → gateway   ("prepared", id, args) | ("error", id, ModelportError)
"""

from __future__ import annotations

import asyncio
import io
import pickle
import struct
from typing import Any, Final

from modelport import errors

HEADER: Final = struct.Struct(">I")
#: The largest frame either side accepts (the length prefix's range).
MAX_FRAME: Final = 2**32 - 1
#: The largest frame read from an untrusted worker unless told otherwise (``max_worker_frame``).
MAX_WORKER_FRAME: Final = 256 * 1024 * 1024
_ERRORS_MODULE: Final = errors.__name__


class ProtocolError(Exception):
    """A frame that cannot be read (too large, or not a tuple we understand)."""


class FrameTooLarge(ProtocolError):
    """A frame whose length prefix is over the reader's limit (its payload is never read)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a frame of {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def _rebuild_error(cls: type[errors.ModelportError], state: dict[str, Any]) -> Exception:
    """Recreate a ModelportError from its class and attributes (whatever its __init__ takes)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, state.get("message", ""))
    exc.__dict__.update(state)
    return exc


class _Pickler(pickle.Pickler):
    """Pickles ModelportErrors by class and attributes: their __init__ signatures differ."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, errors.ModelportError):
            return _rebuild_error, (type(obj), dict(obj.__dict__))
        return NotImplemented


class _WorkerFrameUnpickler(pickle.Unpickler):
    """Only plain data and modelport's errors may come back from a worker."""

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_rebuild_error":
            return _rebuild_error
        if module == _ERRORS_MODULE:
            found = getattr(errors, name, None)
            if isinstance(found, type) and issubclass(found, errors.ModelportError):
                return found
        raise ProtocolError(f"a worker frame may not contain {module}.{name}")


def encode(frame: tuple[Any, ...]) -> bytes:
    """One frame: the length prefix and the pickled tuple."""
    buffer = io.BytesIO()
    buffer.write(b"\0\0\0\0")
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(frame)
    data = buffer.getbuffer()
    size = len(data) - HEADER.size
    if size > MAX_FRAME:
        raise ProtocolError(f"a frame of {size} bytes exceeds the protocol's limit")
    HEADER.pack_into(data, 0, size)
    return bytes(data)


def decode(payload: bytes, *, trusted: bool) -> tuple[Any, ...]:
    """A frame's tuple; ``trusted`` only for frames from our own parent process."""
    if trusted:  # the sender is the gateway that spawned us, over a private socketpair
        return _checked(pickle.loads(payload))  # noqa: S301
    return _checked(_WorkerFrameUnpickler(io.BytesIO(payload)).load())


def _checked(frame: object) -> tuple[Any, ...]:
    if not isinstance(frame, tuple) or not frame or not isinstance(frame[0], str):
        raise ProtocolError("a frame must be a tuple starting with its message name")
    return frame


async def read_frame(
    reader: asyncio.StreamReader, *, trusted: bool, limit: int | None = None
) -> tuple[Any, ...] | None:
    """The next frame, or None when the other end closed the channel.

    An untrusted frame over ``limit`` bytes (default :data:`MAX_WORKER_FRAME`) raises
    FrameTooLarge before its payload is read; trusted frames may use the whole range.
    """
    if limit is None:
        limit = MAX_FRAME if trusted else MAX_WORKER_FRAME
    try:
        header = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        if size > limit:
            raise FrameTooLarge(size, limit)
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None
    return decode(payload, trusted=trusted)


class FrameWriter:
    """Writes whole frames to a stream, one at a time (concurrent senders never interleave)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._lock = asyncio.Lock()

    async def send(self, frame: tuple[Any, ...]) -> None:
        """Send one frame; ConnectionError if the other end is gone."""
        data = encode(frame)
        async with self._lock:
            if self.writer.is_closing():
                raise ConnectionResetError("the channel is closed")
            self.writer.write(data)
            await self.writer.drain()

    def close(self) -> None:
        """Close the channel (the other end reads EOF)."""
        self.writer.close()
