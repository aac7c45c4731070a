"""Catalog artifact downloads over HTTP: conditional (``ETag``), ranged, with checksum headers.

``ETag`` is the quoted SHA-256, ``Repr-Digest`` (RFC 9530) and ``Digest`` (RFC 3230) carry it in
base64, ``Range: bytes=...`` answers 206 and an unsatisfiable range 416 with
``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelport.catalog.domain import ArtifactRecord
from modelport.catalog.service import CatalogService
from modelport.errors import InvalidInput

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int | None] | None:
    """``Range: bytes=...`` as ``(start, exclusive end)``; None to serve the whole object.

    Syntax the server does not understand (other units, several ranges) is ignored, as RFC 9110
    allows; a suffix ``bytes=-n`` is the last ``n`` bytes.
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.group(0) == "bytes=-":
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise InvalidInput({"range": ["a suffix range of 0 bytes is unsatisfiable"]})
        return max(size - suffix, 0), None
    return int(first), int(last) + 1 if last else None


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison) or is ``*``."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def artifact_response(
    catalog: CatalogService,
    record: ArtifactRecord,
    range_header: str | None,
    if_none_match: str | None,
) -> Response:
    """The artifact's bytes, whole or a range, or 304/416, with its checksum headers."""
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode()
    etag = f'"{record.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"sha-256={digest}",
        "Content-Disposition": f'attachment; filename="{record.name.rsplit("/", 1)[-1]}"',
    }
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    media = record.media_type or "application/octet-stream"
    try:
        wanted = parse_range(range_header, record.size)
        if wanted is None:
            chunks: Iterator[bytes] = catalog.artifacts.iter_chunks(record.sha256)
            headers["Content-Length"] = str(record.size)
            return StreamingResponse(chunks, media_type=media, headers=headers)
        part = catalog.artifacts.resolve_range(record.sha256, *wanted)
    except InvalidInput as exc:
        if "range" not in exc.errors:
            raise
        return JSONResponse(
            {"message": f"range not satisfiable: {'; '.join(exc.errors['range'])}"},
            status_code=416,
            headers={"Content-Range": f"bytes */{record.size}", "Accept-Ranges": "bytes"},
        )
    headers["Content-Range"] = part.content_range()
    headers["Content-Length"] = str(part.length)
    chunks = catalog.artifacts.iter_chunks(record.sha256, part.start, part.end)
    return StreamingResponse(chunks, status_code=206, media_type=media, headers=headers)
