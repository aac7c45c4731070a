"""A user's data area over HTTP: ``{base}/data/`` (list, upload, download, delete).

Uploads: ``PUT {base}/data/<name>`` with the file as the body (``curl -T``), whole, or in chunks
carrying ``Content-Range: bytes START-END/TOTAL`` (END inclusive; TOTAL ``*`` while unknown),
each starting where the upload stands. ``Content-Range: bytes */TOTAL`` with an empty body asks
where it stands. Answers: 201 once the file is whole, 202 while parts are missing, both
``{"name", "size", "offset", "complete", "total"}``; 409 ``{"message", "offset"}`` for a chunk
that does not start at ``offset``. ``POST {base}/data/`` takes multipart ``file`` parts
(``curl -F file=@images.zip``), each stored under its file name (or ``name`` when one file).

Training arguments name these files as ``data://<name>`` (``storage.userdata``).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Final

import anyio
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, JSONResponse, Response

from modelport.api.arguments import read_arguments
from modelport.api.auth import CurrentPrincipal
from modelport.api.uploads import UploadStore
from modelport.auth import policy
from modelport.contract.files import UploadedFile
from modelport.errors import InvalidInput
from modelport.settings import Settings
from modelport.storage.userdata import Received, ResumeFrom, Upload, UserData, check_name

_RANGE: Final = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")
_COPY_PIECE: Final = 1024 * 1024


def parse_content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """``(start, end exclusive, total)`` of a ``Content-Range`` request header; start and end
    are None for ``bytes */TOTAL`` (a question), total None for ``*``."""
    found = _RANGE.match(value.strip())
    if found is None:
        raise InvalidInput(
            {
                "Content-Range": [
                    f"expected 'bytes START-END/TOTAL' or 'bytes */TOTAL', not {value!r}"
                ]
            }
        )
    first, last, size = found.groups()
    total = None if size == "*" else int(size)
    if first is None:
        if total is None:
            raise InvalidInput({"Content-Range": ["'bytes */*' asks nothing: give the total"]})
        return None, None, total
    start, end = int(first), int(last) + 1
    if end <= start or (total is not None and end > total):
        raise InvalidInput({"Content-Range": [f"bytes {first}-{last} is not a range of the file"]})
    return start, end, total


def _answer(received: Received) -> JSONResponse:
    return JSONResponse(received.view(), 201 if received.complete else 202)


def data_router(data: UserData, settings: Settings, uploads: UploadStore) -> APIRouter:
    """The ``{base}/data`` routes over ``data`` (each caller sees only their own area)."""
    router = APIRouter(prefix=f"{settings.base_path}/data", tags=["your data"])

    async def listing(principal: CurrentPrincipal) -> dict[str, Any]:
        policy.check_read_data(principal)
        files = await anyio.to_thread.run_sync(data.list, principal.identity)
        used = await anyio.to_thread.run_sync(data.used, principal.identity)
        return {"files": [f.view() for f in files], "used": used, "quota": data.quota}

    for path in ("", "/"):
        router.add_api_route(path, listing, methods=["GET"], summary="List your data")

    @router.put("/{name:path}", summary="Upload a file (whole, or a chunk with Content-Range)")
    async def put(name: str, request: Request, principal: CurrentPrincipal) -> Response:
        policy.check_write_data(principal)
        check_name(name)
        start, end, total = 0, None, None
        declared = request.headers.get("content-range")
        if declared is not None:
            first, end, total = parse_content_range(declared)
            if first is None:  # where does it stand?
                offset = await anyio.to_thread.run_sync(data.offset, principal.identity, name)
                return JSONResponse(Received(name, offset, False, total).view(), 202)
            start = first
        elif request.headers.get("content-length", "").isdigit():
            total = int(request.headers["content-length"])
        chunked = declared is not None
        begin = partial(
            data.begin, principal.identity, name, start=start, total=total, chunked=chunked
        )
        try:
            upload = await anyio.to_thread.run_sync(begin)
        except ResumeFrom as exc:
            return JSONResponse({"message": exc.message, "offset": exc.offset}, 409)
        try:
            async for piece in request.stream():
                if piece:
                    await anyio.to_thread.run_sync(upload.write, piece)
        except BaseException:
            await anyio.to_thread.run_sync(upload.abort)
            raise
        return _answer(await anyio.to_thread.run_sync(upload.finish, end))

    @router.post("", summary="Upload files (multipart: file parts)", status_code=201)
    @router.post("/", include_in_schema=False, status_code=201)
    async def post(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
        policy.check_write_data(principal)
        stored = []
        with uploads.area() as area:
            raw = await read_arguments(request, area, settings.max_upload_size)
            files = [v for v in raw.multi.get("file", []) if isinstance(v, UploadedFile)]
            if not files:
                raise InvalidInput({"file": ["send the file(s) as multipart parts named 'file'"]})
            names = [v for v in raw.multi.get("name", []) if isinstance(v, str)]
            if names and len(files) > 1:
                raise InvalidInput({"name": ["'name' names one file; send one, or leave it out"]})
            for upload in files:
                name = check_name(names[0] if names else upload.original_filename, "file")
                copy = partial(_store, data, principal.identity, name, upload.filename)
                stored.append((await anyio.to_thread.run_sync(copy)).view())
        return {"files": stored}

    @router.get("/{name:path}", summary="Download a file of your data")
    async def download(name: str, principal: CurrentPrincipal) -> Response:
        policy.check_read_data(principal)
        path = await anyio.to_thread.run_sync(data.path, principal.identity, name)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=path.name,
            headers={"X-Content-Type-Options": "nosniff"},
        )

    @router.delete("/{name:path}", status_code=204, summary="Delete a file of your data")
    async def delete(name: str, principal: CurrentPrincipal) -> Response:
        policy.check_write_data(principal)
        await anyio.to_thread.run_sync(data.delete, principal.identity, name)
        return Response(status_code=204)

    return router


def _store(data: UserData, identity: str, name: str, source: str) -> Received:
    """Copy the uploaded temp file ``source`` into ``identity``'s area as ``name``."""
    with open(source, "rb") as handle:
        handle.seek(0, 2)
        total = handle.tell()
        handle.seek(0)
        upload: Upload = data.begin(identity, name, total=total)
        try:
            while piece := handle.read(_COPY_PIECE):
                upload.write(piece)
        except BaseException:
            upload.abort()
            raise
    return upload.finish()
