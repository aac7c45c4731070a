"""A job's events over Server-Sent Events: parsing, and following a stream across reconnects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx

from modelport.client.transport import Transport, error_from_response, segment
from modelport.errors import ModelportError

#: An event of a job's stream: ``{"id": int, "event": str, "data": dict}``.
JobEvent = dict[str, Any]

#: The server sends a keep-alive every 15 s; a quiet stream longer than this has dropped.
_EVENTS_READ_TIMEOUT: Final = 45.0


def follow_events(
    transport: Transport, job_id: str, after: int, reconnects: int, deadline: float | None
) -> Iterator[JobEvent]:
    """A job's events after id ``after`` up to its ``end``, resuming with ``Last-Event-ID``.

    At most ``reconnects`` drops in a row without a new event in between; TimeoutError past
    ``deadline`` (a ``time.monotonic()`` value).
    """
    last, failures = after, 0
    path = f"/jobs/{segment(job_id)}/events"
    while True:
        read = max(transport.timeout, _EVENTS_READ_TIMEOUT)
        if deadline is not None:
            read = max(min(read, deadline - time.monotonic()), 0.001)
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
        timeout = httpx.Timeout(transport.timeout, read=read)
        try:
            with transport.http.stream("GET", path, headers=headers, timeout=timeout) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                for event in parse_sse(response.iter_lines()):
                    if isinstance(event["id"], int):
                        last, failures = event["id"], 0
                    yield event
                    if event["event"] == "end":
                        return
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"job {job_id} did not finish in time")
            problem: Exception = ModelportError("the event stream ended before the job did")
        except httpx.TransportError as exc:
            problem = exc
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} did not finish in time") from problem
        failures += 1
        if failures > reconnects:
            if isinstance(problem, httpx.TransportError):
                raise transport.unreachable(problem) from problem
            raise problem
        time.sleep(min(0.25 * 2**failures, 2.0))


def parse_sse(lines: Iterator[str]) -> Iterator[JobEvent]:
    """Server-Sent Events from a stream's lines: ``{"id", "event", "data"}`` with JSON data."""
    event_id: str | None = None
    kind = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
                number = int(event_id) if event_id and event_id.isdigit() else event_id
                yield {"id": number, "event": kind, "data": payload}
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            kind = value
        elif field == "data":
            data.append(value)
