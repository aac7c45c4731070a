"""The Python SDK: a small, typed client for a modelport server, over ``httpx``.

::

    from modelport import Client

    with Client("http://127.0.0.1:5000", token="...") as mp:
        mp.predict("echo", text="hi", times=2)                  # JSON results come back decoded
        png = mp.predict("legacy", number=5, accept="image/png")  # anything else as bytes
        job = mp.train("trainer", epochs=3)
        done = mp.wait(job["id"], on_event=print)               # follows /jobs/{id}/events
        mp.download_artifact(done["id"], "weights.json", Path("out"))
        mp.pull("iris", Path("iris"))                           # artifacts, sha256 checked

Results are the server's JSON documents as plain ``dict``/``list`` (see README.md for their
shapes). HTTP errors raise modelport's own exceptions (:mod:`modelport.errors`), mapped back from
the status code: 404 → NotFound, 409 → Conflict, 422 → InvalidInput (with the server's field
errors), 500 → ModelError, ... A server that cannot be reached raises :class:`ModelportError`
naming the URL.

The package: :mod:`~modelport.client.transport` (requests, the status → error table),
:mod:`~modelport.client.events` (SSE), :mod:`~modelport.client.files` (what is sent and
written), one module per area (``serving``, ``jobs``, ``catalog``, ``data``) and the
:mod:`~modelport.client.facade` that joins them.
"""

from __future__ import annotations

from modelport.client.events import JobEvent, parse_sse
from modelport.client.facade import Client
from modelport.client.files import FileValue
from modelport.client.transport import error_from_response

__all__ = ["Client", "FileValue", "JobEvent", "error_from_response", "parse_sse"]
