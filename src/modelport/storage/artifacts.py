"""The content-addressed artifact store: model weights and other files of module versions.

Objects live under any storage URL (a local directory, ``s3://bucket/prefix``,
``webdav+https://host/dav/prefix``, ``memory://``...; :mod:`~modelport.storage.backends`) and
are named by the SHA-256 of their bytes::

    <root>/sha256/<first 2 hex>/<64 hex>     a stored object
    <root>/uploads/<random>.part             an upload in progress (removed on success or failure)

``put`` streams its input in 1 MiB chunks into a temporary object while hashing it, then moves
it to its address; storing the same bytes twice keeps one object, so a retried upload is
harmless, and a failed or refused one leaves nothing (its temporary object is aborted or
removed). Reads stream too, in chunks or byte ranges (ranged requests on S3 and WebDAV); no
object is ever held whole in memory. Hash strings are validated
(64 lowercase hex characters) before any path is built, so no caller-supplied text reaches the
file system. Errors: ``InvalidInput`` for bad hashes, checksum mismatches and unsatisfiable
ranges (the HTTP layer answers the latter with 416), ``NotFound`` for absent objects,
``StoreError`` wrapping whatever the file system raised (naming the backend, without
credentials, when it cannot be reached: HTTP 503).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from modelport.errors import InvalidInput, NotFound, StoreError
from modelport.storage.backends import open_url, redact_url

#: Bytes read, hashed and written at a time.
CHUNK_SIZE: Final = 1024 * 1024
#: What a remote backend buffers before it sends a part (S3's multipart parts: at least 5 MiB;
#: a WebDAV upload spills to a temporary file past it), and reads ahead: memory per transfer.
WRITE_BLOCK_SIZE: Final = 8 * CHUNK_SIZE
READ_BLOCK_SIZE: Final = 4 * CHUNK_SIZE
#: S3 takes at most 10,000 parts: a source of known size gets parts large enough for it (a
#: stream of unknown size, up to 10,000 WRITE_BLOCK_SIZE parts: 78 GiB).
_MAX_PARTS: Final = 9_000

_SHA256_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """An object in the store: its SHA-256 (hex), size in bytes and fsspec URL."""

    sha256: str
    size: int
    url: str


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A satisfiable byte range ``[start, end)`` of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """The number of bytes in the range."""
        return self.end - self.start

    def content_range(self) -> str:
        """The HTTP ``Content-Range`` value, e.g. ``bytes 0-99/1000``."""
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def check_sha256(value: object, field: str = "sha256") -> str:
    """Return ``value`` if it is a SHA-256 hex digest (64 lowercase hex), else InvalidInput."""
    if not isinstance(value, str) or _SHA256_PATTERN.fullmatch(value) is None:
        raise InvalidInput({field: ["not a SHA-256 digest: expected 64 lowercase hex characters"]})
    return value


def resolve_byte_range(size: int, start: int, end: int | None) -> ByteRange:
    """Check ``[start, end)`` against an object of ``size`` bytes, as HTTP range requests do.

    ``end`` is exclusive (Python slicing; HTTP's inclusive ``bytes=a-b`` is ``start=a, end=b+1``);
    ``None`` or an end past the object means "to the end". A range is unsatisfiable, and raises
    InvalidInput, when ``start`` is negative or not inside the object (so every range of an empty
    object is) or when ``end <= start``.
    """
    if start < 0 or start >= size:
        raise InvalidInput({"range": [f"range start {start} is not within the {size} bytes"]})
    if end is not None and end <= start:
        raise InvalidInput({"range": [f"range end {end} is not after its start {start}"]})
    return ByteRange(start, size if end is None else min(end, size), size)


class ArtifactStore:
    """Content-addressed storage of artifacts under one storage URL.

    ``storage_options`` are the backend's (credentials, ``endpoint_url``...: see
    :func:`~modelport.storage.backends.options_for`), never written in ``root_url``.
    """

    def __init__(self, root_url: str, /, **storage_options: Any) -> None:
        backend = open_url(root_url, "root_url", **storage_options)
        self._backend = backend
        self._fs: Any = backend.fs
        self._root: str = backend.path.rstrip("/")
        self.root_url = root_url
        #: what messages call this store: its URL, and endpoint, without credentials
        self.name = backend.name

    def __repr__(self) -> str:
        return f"ArtifactStore({redact_url(self.root_url)!r})"

    # -- writing ------------------------------------------------------------------------------

    def put(
        self, source: bytes | Path | BinaryIO, *, expected_sha256: str | None = None
    ) -> StoredArtifact:
        """Store bytes, a file or a binary stream; refuse it if ``expected_sha256`` differs."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256, "expected_sha256")
        tmp = f"{self._root}/uploads/{uuid.uuid4().hex}.part"
        try:
            with self._backend.errors():
                digest, size = self._write_hashing(_source_chunks(source), tmp, _block(source))
                if expected_sha256 is not None and digest != expected_sha256:
                    raise InvalidInput(
                        {"sha256": [f"checksum mismatch: expected {expected_sha256}, got {digest}"]}
                    )
                path = self._path(digest)
                # same address, same bytes: an object already there is this one (dedup)
                if not self._exists(path):
                    self._makedirs(path)
                    self._fs.mv(tmp, path)
        except OSError as exc:
            raise StoreError(f"cannot store the artifact in {self.name}: {exc}") from exc
        finally:
            self._discard(tmp)
        return StoredArtifact(digest, size, self._fs.unstrip_protocol(path))

    def delete(self, sha256: str) -> None:
        """Remove an object; NotFound if it is absent."""
        path = self._path(sha256)
        with self._object_errors(sha256, "delete"):
            if not self._exists(path):  # S3 deletes an absent key without a word
                raise FileNotFoundError(path)
            self._fs.rm_file(path)

    # -- reading ------------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        """Whether an object with this SHA-256 is stored (StoreError if the store cannot say)."""
        path = self._path(sha256)
        with self._object_errors(sha256, "look up"):
            return self._exists(path)

    def size(self, sha256: str) -> int:
        """The size in bytes of a stored object; NotFound if it is absent."""
        path = self._path(sha256)
        with self._object_errors(sha256, "read"):
            return int(self._fs.size(path))

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored object for reading (the caller closes it); NotFound if it is absent.

        The stream reads from the backend as it is read (ranged requests on S3); its errors
        are the store's (StoreError), not the backend library's.
        """
        path = self._path(sha256)
        with self._object_errors(sha256, "open"):
            opened = self._fs.open(path, "rb", block_size=READ_BLOCK_SIZE)
        return cast(BinaryIO, _GuardedStream(opened, lambda: self._object_errors(sha256, "read")))

    def resolve_range(self, sha256: str, start: int, end: int | None) -> ByteRange:
        """Validate a byte range of a stored object (see :func:`resolve_byte_range`)."""
        return resolve_byte_range(self.size(sha256), start, end)

    def open_range(self, sha256: str, start: int, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of an object, read at once; InvalidInput if unsatisfiable.

        Meant for bounded ranges; stream large ones with :meth:`iter_chunks`.
        """
        byte_range = self.resolve_range(sha256, start, end)
        with self._object_errors(sha256, "read"):
            # keywords: s3fs's cat_file takes a version id second
            data = self._fs.cat_file(self._path(sha256), start=byte_range.start, end=byte_range.end)
        return bytes(data)

    def iter_chunks(
        self, sha256: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Stream ``[start, end)`` of an object in chunks, for streaming responses.

        The range is checked now, before the first chunk, so that a response can still answer
        NotFound or 416; without ``start``/``end`` the whole object streams, even an empty one.
        """
        if chunk_size < 1:
            raise InvalidInput({"chunk_size": ["must be at least 1"]})
        if start == 0 and end is None:
            size = self.size(sha256)
            byte_range = ByteRange(0, size, size)
        else:
            byte_range = self.resolve_range(sha256, start, end)
        return self._read_chunks(sha256, byte_range, chunk_size)

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored object: whether its bytes still match its address."""
        hasher = hashlib.sha256()
        with self.open(sha256) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest() == sha256

    # -- internals ----------------------------------------------------------------------------

    def _path(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self._root}/sha256/{sha256[:2]}/{sha256}"

    def _exists(self, path: str) -> bool:
        # not fs.exists(): fsspec's answers False for any error, a store that is down included
        try:
            self._fs.info(path)
        except FileNotFoundError:
            return False
        return True

    def _makedirs(self, path: str) -> None:
        """Make the directory ``path`` goes in, on backends that have directories."""
        if self._backend.directories:
            self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)

    @contextmanager
    def _object_errors(self, sha256: str, action: str) -> Iterator[None]:
        """Errors on one stored object: NotFound if absent, StoreError otherwise."""
        try:
            with self._backend.errors():
                yield
        except FileNotFoundError:
            raise NotFound(f"artifact not found: sha256:{sha256}") from None
        except OSError as exc:
            raise StoreError(f"cannot {action} artifact sha256:{sha256}: {exc}") from exc

    def _write_hashing(self, chunks: Iterator[bytes], tmp: str, block: int) -> tuple[str, int]:
        """Write ``chunks`` to ``tmp``, hashing them; on any error the upload is abandoned
        (an S3 multipart upload aborted, a WebDAV upload never sent), not completed."""
        hasher = hashlib.sha256()
        size = 0
        self._makedirs(tmp)
        out = self._fs.open(tmp, "wb", block_size=block)
        try:
            for chunk in chunks:
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.close()  # completes the upload
        except BaseException:
            _abandon(out)
            raise
        return hasher.hexdigest(), size

    def _read_chunks(self, sha256: str, byte_range: ByteRange, chunk_size: int) -> Iterator[bytes]:
        remaining = byte_range.length
        with self.open(sha256) as stream:
            stream.seek(byte_range.start)
            while remaining > 0:
                chunk = stream.read(min(chunk_size, remaining))
                if not chunk:
                    raise StoreError(f"artifact sha256:{sha256} is shorter than its size")
                remaining -= len(chunk)
                yield chunk

    def _discard(self, tmp: str) -> None:
        try:
            with self._backend.errors():
                self._fs.rm_file(tmp)
        except FileNotFoundError:
            pass  # moved to its address, or never created
        except (OSError, StoreError) as exc:
            # never hide the put's own outcome behind a cleanup failure
            _log.warning("could not remove the temporary upload %s: %s", tmp, exc)


def _abandon(out: Any) -> None:
    """Stop writing ``out`` without completing its upload where the backend can (fsspec's
    ``discard``: an S3 multipart upload aborted, a WebDAV upload never sent); a file written in
    place is only closed, and its caller removes what it holds."""
    with suppress(Exception):
        out.discard()
    with suppress(Exception):
        out.close()


class _GuardedStream(io.RawIOBase):
    """A stored object's stream whose errors are the store's (``guard``), not the library's."""

    def __init__(self, raw: Any, guard: Callable[[], AbstractContextManager[None]]) -> None:
        super().__init__()
        self._raw = raw
        self._guard = guard

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        with self._guard():
            return bytes(self._raw.read(-1 if size is None else size))

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._guard():
            return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def close(self) -> None:
        if not self.closed:
            try:
                with self._guard():
                    self._raw.close()
            finally:
                super().close()


def _block(source: bytes | Path | BinaryIO) -> int:
    """The block size to upload ``source`` with (see ``_MAX_PARTS``)."""
    size = 0
    if isinstance(source, bytes | bytearray | memoryview):
        size = len(source)
    elif isinstance(source, Path):
        with suppress(OSError):  # a missing file is put()'s to report
            size = source.stat().st_size
    return max(WRITE_BLOCK_SIZE, -(-size // _MAX_PARTS))


def _source_chunks(source: bytes | Path | BinaryIO) -> Iterator[bytes]:
    """The input of ``put`` in chunks of at most CHUNK_SIZE, reading files and streams lazily."""
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for offset in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[offset : offset + CHUNK_SIZE])
    elif isinstance(source, Path):
        try:
            stream = source.open("rb")
        except FileNotFoundError:
            raise NotFound(f"source file not found: {source}") from None
        except OSError as exc:
            raise InvalidInput({"source": [f"cannot read {source}: {exc.strerror}"]}) from exc
        with stream:
            yield from _stream_chunks(stream, str(source))
    elif hasattr(source, "read"):
        yield from _stream_chunks(source, "the source stream")
    else:
        raise TypeError(
            f"put() takes bytes, a Path or a binary stream, not {type(source).__name__}"
        )


def _stream_chunks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    while True:
        try:
            chunk = stream.read(CHUNK_SIZE)
        except OSError as exc:
            raise InvalidInput({"source": [f"cannot read {name}: {exc}"]}) from exc
        if not chunk:
            return
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError(f"put() needs a binary stream; read() returned {type(chunk).__name__}")
        yield chunk if isinstance(chunk, bytes) else bytes(chunk)
