"""The framed IPC protocol: frames, errors across processes, the restricted unpickler."""

from __future__ import annotations

import asyncio
import pickle
import socket
from typing import Any

import pytest

from modelport.contract.base import RawArgs
from modelport.errors import InvalidInput, ModelError, Overloaded, PayloadTooLarge
from modelport.gateway.protocol import (
    HEADER,
    MAX_WORKER_FRAME,
    FrameChannel,
    FrameTooLarge,
    FrameWriter,
    ProtocolError,
    decode,
    encode,
    open_channel,
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


class _Transport(asyncio.Transport):
    """What a FrameChannel fed by hand needs of its transport."""

    paused = False

    def pause_reading(self) -> None:
        self.paused = True


def fed_channel(
    *, trusted: bool = False, limit: int | None = None
) -> tuple[FrameChannel, _Transport]:
    channel = FrameChannel(trusted=trusted, limit=limit)
    transport = _Transport()
    channel.connection_made(transport)
    return channel, transport


async def pending(read: Any) -> asyncio.Task[tuple[Any, ...] | None]:
    """A read started and given a turn of the loop (it waits for more data if it is not done)."""
    task: asyncio.Task[tuple[Any, ...] | None] = asyncio.create_task(read)
    await asyncio.sleep(0)
    return task


async def test_a_channel_splits_every_frame_out_of_one_read() -> None:
    channel, _ = fed_channel()
    frames: list[tuple[Any, ...]] = [("response", i, 200, [], b"x" * i) for i in range(5)]
    channel.data_received(b"".join(encode(f) for f in frames))
    assert [await channel.read() for _ in frames] == frames
    waiting = await pending(channel.read())
    assert not waiting.done()
    channel.eof_received()
    assert await waiting is None


async def test_a_frame_split_across_reads_is_read_once_complete() -> None:
    channel, _ = fed_channel()
    first, second = encode(("chunk", 1, b"a" * 100)), encode(("end", 1))
    data = first + second
    reading = await pending(channel.read())
    for i in range(len(first) - 1):  # the prefix split too
        channel.data_received(data[i : i + 1])
        await asyncio.sleep(0)
        assert not reading.done()
    channel.data_received(data[len(first) - 1 : len(first) + 2])  # the end of one, more
    assert await reading == ("chunk", 1, b"a" * 100)
    reading = await pending(channel.read())
    assert not reading.done()
    channel.data_received(data[len(first) + 2 :])
    assert await reading == ("end", 1)


async def test_a_channel_refuses_a_frame_over_its_limit_on_its_prefix() -> None:
    channel, transport = fed_channel()
    channel.data_received(encode(("chunk", 1, b"ok")) + HEADER.pack(MAX_WORKER_FRAME + 1)[:2])
    assert await channel.read() == ("chunk", 1, b"ok")
    reading = await pending(channel.read())
    assert not reading.done()
    assert not transport.paused
    channel.data_received(HEADER.pack(MAX_WORKER_FRAME + 1)[2:])  # no byte of its payload yet
    with pytest.raises(FrameTooLarge) as refused:
        await reading
    assert (refused.value.size, refused.value.limit) == (MAX_WORKER_FRAME + 1, MAX_WORKER_FRAME)
    assert transport.paused  # the socket is read no further
    channel.data_received(encode(("late",)))  # already on its way: ignored
    with pytest.raises(FrameTooLarge):
        await channel.read()

    small, transport = fed_channel(limit=1000)
    small.data_received(encode(("response", 1, 200, [], b"x" * 2000))[:100])
    with pytest.raises(FrameTooLarge, match="over the limit of 1000 bytes"):
        await small.read()
    assert transport.paused
    trusted, _ = fed_channel(trusted=True)  # the parent's frames may use the whole range
    trusted.data_received(encode(("http", 1, {}, b"x" * (MAX_WORKER_FRAME // 4096), False)))
    assert (await trusted.read() or ())[3] == b"x" * (MAX_WORKER_FRAME // 4096)


async def test_a_channel_from_a_worker_refuses_other_objects() -> None:
    smuggled = pickle.dumps(("response", 1, RawArgs()))
    framed = HEADER.pack(len(smuggled)) + smuggled
    channel, transport = fed_channel()
    channel.data_received(encode(("response", 1, 200, [], b"")) + framed)
    assert (await channel.read() or ())[0] == "response"  # the frames before it still count
    with pytest.raises(ProtocolError, match="may not contain"):
        await channel.read()
    assert transport.paused
    trusted, _ = fed_channel(trusted=True)
    trusted.data_received(framed)
    assert isinstance((await trusted.read() or ())[2], RawArgs)
    garbage, _ = fed_channel()
    garbage.data_received(HEADER.pack(3) + b"\x80\x05x")
    with pytest.raises(ProtocolError, match="unreadable"):
        await garbage.read()


async def test_frames_sent_in_one_turn_of_the_loop_go_out_in_one_write() -> None:
    left, right = socket.socketpair()
    _, frames = await open_channel(left, trusted=True)
    reader, answers = await open_channel(right, trusted=False)
    writes: list[int] = []  # frames per write call
    transport = frames.writer.transport
    writelines = transport.writelines

    def count_writelines(data: list[bytes]) -> None:
        writes.append(len(data))
        writelines(data)

    transport.writelines = count_writelines  # type: ignore[method-assign,assignment]
    for i in range(5):  # none of these waits: all in one turn
        await frames.send(("http", i, {}, b"", False))
    assert writes == []  # queued: written at the end of this turn
    expected: list[tuple[Any, ...]] = [("http", i, {}, b"", False) for i in range(5)]
    assert [await reader.read() for _ in range(5)] == expected
    assert writes == [5]
    await frames.send(("cancel", 1))
    frames.close()  # what is queued still goes out
    assert await reader.read() == ("cancel", 1)
    assert await reader.read() is None
    with pytest.raises(ConnectionError):
        await frames.send(("late",))
    answers.close()


async def test_large_frames_cross_a_channel_whole_while_the_writer_waits_for_room() -> None:
    left, right = socket.socketpair()
    _, frames = await open_channel(left, trusted=True)
    reader, other = await open_channel(right, trusted=False)
    big = bytes(range(256)) * (12 * 1024)  # 3 MiB: far more than the socket's buffer

    async def receive() -> list[tuple[Any, ...] | None]:
        return [await reader.read() for _ in range(7)]

    receiving = asyncio.create_task(receive())
    sends = [frames.send(("body", i, big if i % 2 else b"small")) for i in range(7)]
    await asyncio.gather(*sends)
    received = await asyncio.wait_for(receiving, 10)
    assert [f and f[1] for f in received] == list(range(7))  # in the order they were sent
    assert all(f is not None and f[2] == (big if f[1] % 2 else b"small") for f in received)
    frames.close()
    other.close()
