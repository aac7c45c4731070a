"""Real storage servers on 127.0.0.1 for the backend tests: moto's S3 server and WsgiDAV.

Each runs as a subprocess of the test session on a free port; :class:`StorageServer` starts it,
waits until it accepts connections, and stops it (only the process it started).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelport.storage import ArtifactStore
from modelport.storage.backends import StorageBackend, open_url, options_for

#: The credentials the test servers expect (moto takes any; WsgiDAV checks these).
S3_KEY, S3_SECRET = "test-access-key", "test-secret-key-0123456789"
DAV_USER, DAV_PASSWORD = "alice", "dav-password-0123456789"
BUCKET = "modelport"


def free_port() -> int:
    """A TCP port nothing listens on now (a port for a server, or for none at all)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StorageServer:
    """A server subprocess on ``port``, its output in ``log``."""

    argv: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, limit_s: float = 60) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[2]} exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[2]} did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def moto_server(workdir: Path) -> StorageServer:
    """moto's S3 server (``moto_server``), not started."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return StorageServer(argv, port, workdir / "moto.log")


def wsgidav_server(workdir: Path) -> StorageServer:
    """WsgiDAV sharing ``workdir/share`` at ``/dav``, basic auth for DAV_USER, on uvicorn (it
    reads chunked uploads), not started."""
    port = free_port()
    share = workdir / "share"
    share.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "server": "uvicorn",
        "verbose": 1,
        "provider_mapping": {"/dav": str(share)},
        "http_authenticator": {
            "domain_controller": None,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {"user_mapping": {"*": {DAV_USER: {"password": DAV_PASSWORD}}}},
        "dir_browser": {"enable": False},
    }
    path = workdir / "wsgidav.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = [sys.executable, "-m", "wsgidav.server.server_cli", "-c", str(path)]
    return StorageServer(argv, port, workdir / "wsgidav.log")


def s3_options(endpoint: str) -> dict[str, Any]:
    """fsspec options for the moto server (what Settings.storage_options would hold)."""
    return {"key": S3_KEY, "secret": S3_SECRET, "endpoint_url": endpoint}


def dav_options() -> dict[str, Any]:
    """fsspec options for the WsgiDAV server (``auth`` as JSON settings give it)."""
    return {"auth": [DAV_USER, DAV_PASSWORD]}


@dataclass
class Target:
    """A fresh location on a storage server: its URL and the storage_options that reach it."""

    kind: str
    url: str
    storage_options: dict[str, dict[str, Any]]

    def backend(self, url: str | None = None) -> StorageBackend:
        return open_url(url or self.url, **options_for(self.url, self.storage_options))

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.url, **options_for(self.url, self.storage_options))

    def files(self) -> list[str]:
        """Every object under the location, relative to it."""
        backend = self.backend()
        root = backend.path.rstrip("/")
        try:
            found = backend.fs.find(root)
        except FileNotFoundError:
            return []
        return sorted(path.removeprefix(root + "/") for path in found)


def location(kind: str, server: StorageServer) -> Target:
    """A fresh prefix on ``server``: S3 options keyed by scheme, WebDAV's by URL prefix."""
    prefix = uuid.uuid4().hex[:12]
    if kind == "s3":
        return Target(kind, f"s3://{BUCKET}/{prefix}", {"s3": s3_options(server.endpoint)})
    share = f"webdav+http://127.0.0.1:{server.port}/dav"
    return Target(kind, f"{share}/{prefix}", {share: dav_options()})


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    """moto's S3 server with the bucket BUCKET."""
    server = moto_server(tmp_path_factory.mktemp("moto"))
    server.start()
    try:
        open_url(f"s3://{BUCKET}", **s3_options(server.endpoint)).fs.mkdir(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    """WsgiDAV sharing a directory at /dav, with basic auth."""
    server = wsgidav_server(tmp_path_factory.mktemp("wsgidav"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
