"""WebDAV shares named by URL: ``webdav+http://host:port/path``, ``webdav+https://...`` and
``webdavs://...`` (the same as ``webdav+https``), on webdav4.

webdav4's own ``webdav://`` protocol needs the server in a ``base_url`` option; these URLs say
where their server is, so that a storage URL in Settings is enough. Credentials come from the
options (``auth``: ``[user, password]``, as JSON settings give it), never from the URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from webdav4.fsspec import (  # type: ignore[import-untyped]
    WebdavFileSystem,
    translate_exceptions,
)

from modelport.storage.backends import DAV_SCHEMES


class DavFileSystem(WebdavFileSystem):  # type: ignore[misc]
    """webdav4's file system on the URL's server; paths are from that server's root."""

    protocol = tuple(DAV_SCHEMES)
    root_marker = ""

    def __init__(self, base_url: str, auth: Any = None, **client_opts: Any) -> None:
        if isinstance(auth, list):
            auth = tuple(auth)
        super().__init__(base_url, auth=auth, **client_opts)
        self.base_url = str(base_url).rstrip("/")

    @classmethod
    def _get_kwargs_from_urls(cls, path: str) -> dict[str, Any]:
        parts = urlsplit(path)
        http = DAV_SCHEMES.get(parts.scheme.lower(), "https")
        return {"base_url": f"{http}://{parts.netloc}"}

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if "://" in path:
            path = urlsplit(path).path
        return path.strip("/")

    def unstrip_protocol(self, name: str) -> str:
        """The URL of a path on this server (``webdav+http(s)://host/path``)."""
        parts = urlsplit(self.base_url)
        return f"webdav+{parts.scheme}://{parts.netloc}/{self._strip_protocol(name)}"

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        """Move a file with one MOVE: on one server a rename, so ``path2`` never holds part of
        a file (webdav4's COPY then DELETE writes it progressively)."""
        if recursive:
            super().mv(path1, path2, recursive=recursive, **kwargs)
            return
        with translate_exceptions():
            self.client.move(self._strip_protocol(path1), self._strip_protocol(path2), True)
