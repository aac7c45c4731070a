"""The HTTP server's own limits, against a real ``modelport serve`` on 127.0.0.1 and raw sockets.

Slow clients (headers or a body trickling in), oversized headers and too many connections are
the server's business, not the app's: they are tested over real TCP. Timing is only bounded
generously (shared CI cores): "dropped, and well before it would have been otherwise".
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from modelport.client import Client
from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

#: Seconds the servers below give a client for its headers, or to go on with a stalled body.
TIMEOUT = 2
#: Generous: a dropped connection must be gone well within this (else it would hang forever).
DROPPED_WITHIN = 30


@contextmanager
def serving(**env: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``modelport serve echo`` with ``MODELPORT_*`` settings ``env``, until ready."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "serve", "echo", "--port", str(port)],
        env=subprocess_env(**{f"MODELPORT_{k.upper()}": v for k, v in env.items()}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        yield port, proc
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert "Traceback" not in stderr, stderr  # every limit is an answer, never a crash


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """One server with short header and body timeouts and an 8 KiB header limit."""
    limits = {"header_timeout": str(TIMEOUT), "body_timeout": str(TIMEOUT)}
    with serving(**limits, max_header_size="8192") as running:
        yield running


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(DROPPED_WITHIN)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def json_of(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    loaded: dict[str, object] = json.loads(body)
    return loaded


def test_a_slow_loris_is_answered_408_and_dropped(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    port, _ = server
    sock = connect(port)
    sock.settimeout(0.5)
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    answer = b""
    while time.monotonic() - started < DROPPED_WITHIN:
        try:
            sock.sendall(b"X")  # a byte now and then: each would reset a mere idle timer
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: the server has closed it
            break
        if not chunk:
            break
        answer += chunk
    assert time.monotonic() - started < DROPPED_WITHIN, "the slow client was never dropped"
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert "header_timeout" in str(json_of(answer)["message"])
    sock.close()


def test_an_idle_connection_is_closed_after_the_header_timeout(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    port, _ = server
    sock = connect(port)
    started = time.monotonic()
    assert read_until_closed(sock) == b""  # nothing asked, nothing answered
    assert TIMEOUT / 2 < time.monotonic() - started < DROPPED_WITHIN
    sock.close()


def test_a_stalled_body_drops_the_connection(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    port, _ = server
    sock = connect(port)
    sock.sendall(
        b"POST /v2/models/echo/predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"text": "'
    )
    started = time.monotonic()
    assert read_until_closed(sock) == b""
    assert time.monotonic() - started < DROPPED_WITHIN
    sock.close()


@pytest.mark.parametrize("trickled", [False, True], ids=["whole", "trickled"])
def test_headers_over_the_limit_are_431(
    server: tuple[int, subprocess.Popen[str]], trickled: bool
) -> None:
    port, _ = server
    sock = connect(port)
    request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 20_000
    if trickled:  # headers that never end: refused once past the limit
        for start in range(0, len(request), 4096):
            sock.sendall(request[start : start + 4096])
            time.sleep(0.01)
    else:
        sock.sendall(request + b"\r\n\r\n")
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert "max_header_size" in str(json_of(answer)["message"])
    sock.close()


def test_ordinary_clients_are_unaffected(server: tuple[int, subprocess.Popen[str]]) -> None:
    port, proc = server
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as http:  # keep-alive: one connection, several requests
        for text in ("a", "b", "c"):
            answer = http.post("/v2/models/echo/predict/", params={"text": text})
            assert answer.json()["text"] == text
    with Client(base) as client:  # the Python client sends no Origin
        assert client.predict("echo", text="hi")["text"] == "hi"
    assert proc.poll() is None


def test_a_foreign_host_header_is_refused_over_real_http(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    port, _ = server
    sock = connect(port)
    sock.sendall(
        b"GET /v2/models/ HTTP/1.1\r\nHost: rebound.evil.example\r\nConnection: close\r\n\r\n"
    )
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert "allowed_hosts" in str(json_of(answer)["message"])
    sock.close()
    base = f"http://127.0.0.1:{port}"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert httpx.get(f"{base}/v2/models/", headers={"host": host}).status_code == 200
    cross = httpx.post(
        f"{base}/v2/models/echo/predict/?text=a", headers={"origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    same = httpx.post(f"{base}/v2/models/echo/predict/?text=a", headers={"origin": base})
    assert same.status_code == 200


def test_connections_over_the_cap_are_answered_503_and_closed() -> None:
    with serving(max_connections="3") as (port, _):
        held = [connect(port) for _ in range(3)]
        try:
            refused = httpx.get(f"http://127.0.0.1:{port}/health/live")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["connection"] == "close"
            assert "max_connections" in refused.json()["message"]
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + DROPPED_WITHIN
        while httpx.get(f"http://127.0.0.1:{port}/health/live").status_code != 200:
            assert time.monotonic() < deadline, "the held connections were never released"
            time.sleep(0.05)
