"""The framed IPC protocol between the gateway and its model workers.

Each frame is a 4-byte big-endian length followed by a pickled tuple whose first item names the
message. The channel is a private ``socket.socketpair()``: the gateway keeps one end and passes
the other to the worker it spawns (``pass_fds``), so no other process can connect. Pickle is
therefore safe in the gateway-to-worker direction (the worker trusts its own parent). Frames
coming back from a worker, which runs catalog module code, are read with a restricted unpickler
that only rebuilds modelport's own errors: a module cannot smuggle objects into the gateway,
nor make it buffer more than ``limit`` bytes (``max_worker_frame``, 256 MiB by default): a
larger frame's length prefix is refused before any of it is read (:class:`FrameTooLarge`).

Both ends open the socket with :func:`open_channel`: a :class:`FrameChannel` splits every complete
frame out of whatever one read of the socket brings, and a :class:`FrameWriter` queues the frames
sent during one turn of the event loop and writes them together (one ``writelines``), waiting for
the other end only when the socket's buffer is full.

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
import socket
import struct
from collections import deque
from typing import Any, Final, Protocol, cast

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


def decode(payload: bytes | memoryview, *, trusted: bool) -> tuple[Any, ...]:
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
    """The next frame from a stream, or None when the other end closed the channel.

    An untrusted frame over ``limit`` bytes (default :data:`MAX_WORKER_FRAME`) raises
    FrameTooLarge before its payload is read; trusted frames may use the whole range.
    """
    limit = _limit(trusted, limit)
    try:
        header = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        if size > limit:
            raise FrameTooLarge(size, limit)
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None
    return decode(payload, trusted=trusted)


def _limit(trusted: bool, limit: int | None) -> int:
    if limit is not None:
        return limit
    return MAX_FRAME if trusted else MAX_WORKER_FRAME


class FrameChannel(asyncio.Protocol):
    """One end of the socketpair: the frames it receives, and flow control for its writer.

    Each read of the socket is split into all the complete frames it holds; only the start of an
    unfinished frame is kept. A frame's length is checked as soon as its prefix arrives, so a
    frame over ``limit`` is refused (:class:`FrameTooLarge`, the channel stops reading) without
    its payload ever being collected.
    """

    transport: asyncio.Transport

    def __init__(self, *, trusted: bool, limit: int | None = None) -> None:
        self.trusted = trusted
        self.limit = _limit(trusted, limit)
        self._frames: deque[tuple[Any, ...]] = deque()
        #: the start of a frame not complete yet
        self._partial = bytearray()
        #: how many bytes ``_partial`` needs before the next frame (or prefix) is complete
        self._needed = HEADER.size
        self._error: BaseException | None = None
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drains: list[asyncio.Future[None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._error is not None:
            return
        partial = self._partial
        if not partial:
            used = self._split(data)
            if used < len(data) and self._error is None:
                partial += memoryview(data)[used:]
        else:
            partial += data
            if len(partial) >= self._needed:
                used = self._split(partial)
                if self._error is None:
                    del partial[:used]
        if self._frames or self._error is not None:
            self._wake()

    def _split(self, data: bytes | bytearray) -> int:
        """Decode the complete frames at the start of ``data``; return the bytes they took."""
        end, used = len(data), 0
        with memoryview(data) as view:
            while end - used >= HEADER.size:
                (size,) = HEADER.unpack_from(data, used)
                start = used + HEADER.size
                if size > self.limit:
                    self._fail(FrameTooLarge(size, self.limit))
                    return used
                if end - start < size:
                    self._needed = HEADER.size + size
                    return used
                payload = view[start : start + size]
                try:
                    self._frames.append(decode(payload, trusted=self.trusted))
                except ProtocolError as exc:
                    self._fail(exc)
                    return used
                except Exception as exc:  # any malformed pickle: the sender broke the protocol
                    self._fail(ProtocolError(f"an unreadable frame: {exc!r}"))
                    return used
                finally:
                    payload.release()
                used = start + size
        self._needed = HEADER.size
        return used

    def _fail(self, error: BaseException) -> None:
        """Stop reading: the frames before ``error`` are still read, then ``error`` is raised."""
        self._error = error
        self._partial = bytearray()
        self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return True  # keep our half open: the reader decides when the channel closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()
        for waiter in self._drains:
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("the channel is closed"))
        self._drains.clear()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> tuple[Any, ...] | None:
        """The next frame, or None when the other end closed the channel (ProtocolError, or
        the connection's error, once the frames before it have been read)."""
        while not self._frames:
            if self._error is not None:
                raise self._error
            if self._eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drains:
            if not waiter.done():
                waiter.set_result(None)
        self._drains.clear()

    async def drain(self) -> None:
        """Wait until the socket's write buffer is below its low-water mark again."""
        if self.transport.is_closing():
            raise ConnectionResetError("the channel is closed")
        if self._paused:
            waiter = asyncio.get_running_loop().create_future()
            self._drains.append(waiter)
            await waiter

    def close(self) -> None:
        """Close the socket once what is buffered has been written."""
        self.transport.close()


async def open_channel(
    sock: socket.socket, *, trusted: bool, limit: int | None = None
) -> tuple[FrameChannel, FrameWriter]:
    """Frames over a connected socket: what arrives (``trusted``: from our own parent, else
    refused over ``limit`` bytes) and a writer for what we send."""
    loop = asyncio.get_running_loop()
    _, channel = await loop.create_connection(
        lambda: FrameChannel(trusted=trusted, limit=limit), sock=sock
    )
    return channel, FrameWriter(channel)


class _Sink(Protocol):
    """What a FrameWriter writes through: a FrameChannel, or an asyncio StreamWriter."""

    @property
    def transport(self) -> asyncio.WriteTransport: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class FrameWriter:
    """Writes whole frames to a channel, in the order they are sent.

    The frames sent during one turn of the event loop are written together at its end (one
    ``writelines``); each frame is queued whole, without an await, so concurrent senders never
    interleave and need no lock. A sender waits only while the socket's write buffer is over its
    high-water mark (a large body, a slow reader).
    """

    def __init__(self, writer: _Sink) -> None:
        self.writer = writer
        self._queued: list[bytes] = []
        self._queued_size = 0
        self._high_water = writer.transport.get_write_buffer_limits()[1]

    async def send(self, frame: tuple[Any, ...]) -> None:
        """Send one frame; ConnectionError if the channel is closed."""
        data = encode(frame)
        transport = self.writer.transport
        if transport.is_closing():
            raise ConnectionResetError("the channel is closed")
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queued.append(data)
        self._queued_size += len(data)
        if self._queued_size + transport.get_write_buffer_size() > self._high_water:
            self._flush()
            if transport.get_write_buffer_size() > self._high_water:
                await self.writer.drain()

    def _flush(self) -> None:
        queued = self._queued
        if not queued:
            return
        self._queued, self._queued_size = [], 0
        transport = self.writer.transport
        if transport.is_closing():  # the other end is gone: its reader says so
            return
        if len(queued) == 1:
            transport.write(queued[0])
        else:
            transport.writelines(queued)

    def close(self) -> None:
        """Close the channel once the queued frames are written (the other end reads EOF)."""
        self._flush()
        self.writer.close()
