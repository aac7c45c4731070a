"""The framed IPC protocol: frames, errors across processes, the restricted unpickler."""

from __future__ import annotations

import asyncio
import pickle
import socket

import pytest

from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput, ModelError, Overloaded, PayloadTooLarge
from modelport.gateway.protocol import (
    HEADER,
    MAX_WORKER_FRAME,
    FrameTooLarge,
    FrameWriter,
    ProtocolError,
    decode,
    encode,
    read_frame,
)


def test_a_frame_is_a_length_prefix_and_a_pickled_tuple() -> None:
    data = encode(("http", 1, {"path": "/"}, b"body", None))
    (size,) = HEADER.unpack(data[: HEADER.size])
    assert size == len(data) - HEADER.size
    assert decode(data[HEADER.size :], trusted=False) == ("http", 1, {"path": "/"}, b"body", None)


@pytest.mark.parametrize(
    "error",
    [
        InvalidInput({"epochs": ["Must be at least 1."]}),
        Overloaded("echo", retry_after=3),
        PayloadTooLarge(100),
        ModelError("ValueError: no", "Traceback ..."),
    ],
)
def test_errors_cross_with_their_attributes(error: Exception) -> None:
    [kind, rid, back] = decode(encode(("error", 7, error))[HEADER.size :], trusted=False)
    assert (kind, rid, type(back)) == ("error", 7, type(error))
    assert back.__dict__ == error.__dict__
    assert str(back) == str(error)


def test_frames_from_a_worker_cannot_carry_other_objects() -> None:
    smuggled = pickle.dumps(("response", 1, RawArgs()))
    with pytest.raises(ProtocolError, match="may not contain"):
        decode(smuggled, trusted=False)
    assert isinstance(decode(smuggled, trusted=True)[2], RawArgs)  # the gateway's own frames
    with pytest.raises(ProtocolError, match="tuple"):
        decode(pickle.dumps(["not", "a", "tuple"]), trusted=True)


async def test_frames_travel_over_a_socketpair_until_it_closes() -> None:
    left, right = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=left)
    reader, other = await asyncio.open_connection(sock=right)
    frames = FrameWriter(writer)
    big = b"\x00" * (3 * 1024 * 1024)

    async def receive() -> list[tuple[object, ...] | None]:
        return [await read_frame(reader, trusted=False) for _ in range(3)]

    receiving = asyncio.create_task(receive())  # the socket buffer is smaller than a frame
    await asyncio.gather(*(frames.send(("http", i, big)) for i in range(3)))
    received = await asyncio.wait_for(receiving, 10)
    assert sorted(f[1] for f in received if f) == [0, 1, 2]
    assert all(f is not None and f[2] == big for f in received)
    frames.close()
    assert await read_frame(reader, trusted=False) is None
    with pytest.raises(ConnectionError):
        await frames.send(("late",))
    other.close()


async def test_an_untrusted_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(HEADER.pack(MAX_WORKER_FRAME + 1) + b"never read")
    with pytest.raises(FrameTooLarge) as refused:
        await read_frame(reader, trusted=False)
    assert (refused.value.size, refused.value.limit) == (MAX_WORKER_FRAME + 1, MAX_WORKER_FRAME)
    assert isinstance(refused.value, ProtocolError)
    assert await reader.read(10) == b"never read"  # its payload stayed unread

    frame = encode(("response", 1, 200, [], b"x" * 2000))
    small = asyncio.StreamReader()
    small.feed_data(frame)
    with pytest.raises(FrameTooLarge, match="over the limit of 1000 bytes"):
        await read_frame(small, trusted=False, limit=1000)
    for trusted, limit in ((False, 4096), (True, None)):  # within the limit; the parent's frames
        ok = asyncio.StreamReader()
        ok.feed_data(frame)
        assert (await read_frame(ok, trusted=trusted, limit=limit) or ())[4] == b"x" * 2000
