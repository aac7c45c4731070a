"""The client's data area: ``/data/...``, with resumable chunked uploads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, cast
from urllib.parse import quote

from modelport.client.files import write_response
from modelport.client.transport import Transport, error_from_response, json_or_empty


class DataCalls:
    """Your data on the platform: list, upload, download, delete (a part of :class:`Client`)."""

    _transport: Transport

    def data(self) -> dict[str, Any]:
        """Your data area: ``{"files": [{"name", "size", "modified"}], "used", "quota"}``."""
        return self._transport.document("GET", "/data/")

    def put_data(
        self,
        source: Path,
        name: str | None = None,
        *,
        chunk_size: int = 8 * 1024 * 1024,
        progress: Callable[[int, int], object] | None = None,
    ) -> dict[str, Any]:
        """Upload the file ``source`` to your data as ``name`` (default: its file name), in
        chunks of ``chunk_size`` bytes, resuming an upload of it that was cut off; train on it
        as ``data://<name>``. ``progress(sent, total)`` is called after each chunk."""
        name = name or source.name
        path = f"/data/{quote(name, safe='/')}"
        total = source.stat().st_size
        if total == 0:
            return self._transport.document("PUT", path, content=b"")
        asked = self._transport.request("PUT", path, headers={"Content-Range": f"bytes */{total}"})
        offset = cast(int, asked.json()["offset"])
        offset = 0 if offset >= total else offset
        answer: dict[str, Any] = {}
        with source.open("rb") as handle:
            while offset < total:
                handle.seek(offset)
                piece = handle.read(chunk_size)
                end = offset + len(piece) - 1
                headers = {"Content-Range": f"bytes {offset}-{end}/{total}"}
                response = self._transport.http.put(path, content=piece, headers=headers)
                if response.status_code == 409 and "offset" in json_or_empty(response):
                    offset = int(response.json()["offset"])  # another try of ours got further
                    continue
                if response.is_error:
                    raise error_from_response(response)
                answer = response.json()
                offset = int(answer["offset"])
                if progress is not None:
                    progress(offset, total)
        return answer

    def get_data(self, name: str, dest: Path) -> Path:
        """Download your file ``name`` to ``dest`` (a file, or a directory to write it in)."""
        target = dest / PurePosixPath(name).name if dest.is_dir() else dest
        with self._transport.stream("GET", f"/data/{quote(name, safe='/')}") as response:
            write_response(response, target)
        return target

    def delete_data(self, name: str) -> None:
        """Delete your file ``name``."""
        self._transport.request("DELETE", f"/data/{quote(name, safe='/')}")
