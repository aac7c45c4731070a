"""Streams: a streaming model's iterator runs in its worker thread; its items reach the loop.

The producer (a worker thread of the model's pool) pulls items from the model and hands them to
the event loop, at most :data:`BUFFER` ahead of the consumer (a slow client slows the model down
instead of filling memory). When the consumer stops — the stream ended, the client went away,
an item took longer than the deadline — the producer stops at the model's next item and closes
its iterator, so the model's generator gets ``GeneratorExit`` where it stands and its
``finally`` runs. The thread counts as busy until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from concurrent.futures import Executor
from typing import Any

from modelport.errors import PredictTimeout

#: Items a producer may hand over before the consumer has taken them.
BUFFER = 16
#: Seconds between a stopped consumer and the producer noticing it while the buffer is full.
_POLL = 0.1


async def stream_from_thread(
    pool: Executor,
    open_items: Callable[[], Generator[bytes, None, None]],
    idle_timeout: float | None,
    label: str,
    on_done: Callable[[], None],
) -> AsyncGenerator[bytes, None]:
    """The items ``open_items()`` produces in ``pool``; PredictTimeout when the next takes
    longer than ``idle_timeout`` seconds. ``on_done`` runs (on the loop) once the producer
    thread has let go of the model."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    room = threading.Semaphore(BUFFER)
    stop = threading.Event()

    def hand(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def produce() -> None:
        if stop.is_set():  # given up before a thread was free
            return
        try:
            items = open_items()
            try:
                for item in items:
                    while not room.acquire(timeout=_POLL):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    hand("item", item)
            finally:
                items.close()
        except BaseException as exc:  # the model failed: the consumer raises it
            hand("error", exc)
            return
        hand("end", None)

    running = loop.run_in_executor(pool, produce)
    running.add_done_callback(lambda _: on_done())
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), idle_timeout)
            except TimeoutError:
                raise PredictTimeout(f"{label} produced nothing for {idle_timeout:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            room.release()
            yield value
    finally:
        stop.set()
