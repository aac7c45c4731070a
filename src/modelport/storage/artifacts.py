"""The content-addressed artifact store: model weights and other files of module versions.

Objects live under any fsspec URL (a local directory, ``s3://bucket/prefix``, ``memory://``, ...)
and are named by the SHA-256 of their bytes::

    <root>/sha256/<first 2 hex>/<64 hex>     a stored object
    <root>/uploads/<random>.part             an upload in progress (removed on success or failure)

``put`` streams its input in 1 MiB chunks into a temporary object while hashing it, then moves
it to its address; storing the same bytes twice keeps one object. Hash strings are validated
(64 lowercase hex characters) before any path is built, so no caller-supplied text reaches the
file system. Errors: ``InvalidInput`` for bad hashes, checksum mismatches and unsatisfiable
ranges (the HTTP layer answers the latter with 416), ``NotFound`` for absent objects,
``StoreError`` wrapping whatever the file system raised.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

import fsspec

from modelport.errors import InvalidInput, NotFound, StoreError

#: Bytes read, hashed and written at a time.
CHUNK_SIZE: Final = 1024 * 1024

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


@contextmanager
def _object_errors(sha256: str, action: str) -> Iterator[None]:
    """fsspec/OS errors on one stored object: NotFound if absent, StoreError otherwise."""
    try:
        yield
    except FileNotFoundError:
        raise NotFound(f"artifact not found: sha256:{sha256}") from None
    except OSError as exc:
        raise StoreError(f"cannot {action} artifact sha256:{sha256}: {exc}") from exc


class ArtifactStore:
    """Content-addressed storage of artifacts under one fsspec root URL."""

    def __init__(self, root_url: str, **storage_options: Any) -> None:
        try:
            fs, root = fsspec.core.url_to_fs(root_url, **storage_options)
        except ValueError as exc:  # "Protocol not known: ..."
            raise InvalidInput({"root_url": [str(exc)]}) from exc
        except ImportError as exc:  # the protocol's package (s3fs, ...) is not installed
            raise StoreError(f"cannot open the artifact store {root_url}: {exc}") from exc
        self._fs: Any = fs
        self._root: str = root.rstrip("/")
        self.root_url = root_url

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_url!r})"

    # -- writing ------------------------------------------------------------------------------

    def put(
        self, source: bytes | Path | BinaryIO, *, expected_sha256: str | None = None
    ) -> StoredArtifact:
        """Store bytes, a file or a binary stream; refuse it if ``expected_sha256`` differs."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256, "expected_sha256")
        tmp = f"{self._root}/uploads/{uuid.uuid4().hex}.part"
        try:
            digest, size = self._write_hashing(_source_chunks(source), tmp)
            if expected_sha256 is not None and digest != expected_sha256:
                raise InvalidInput(
                    {"sha256": [f"checksum mismatch: expected {expected_sha256}, got {digest}"]}
                )
            path = self._path(digest)
            # same address, same bytes: an object already there is this one (dedup)
            if not self._fs.exists(path):
                self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                self._fs.mv(tmp, path)
        except OSError as exc:
            raise StoreError(f"cannot store the artifact in {self.root_url}: {exc}") from exc
        finally:
            self._discard(tmp)
        return StoredArtifact(digest, size, self._fs.unstrip_protocol(path))

    def delete(self, sha256: str) -> None:
        """Remove an object; NotFound if it is absent."""
        path = self._path(sha256)
        with _object_errors(sha256, "delete"):
            self._fs.rm_file(path)

    # -- reading ------------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        """Whether an object with this SHA-256 is stored."""
        path = self._path(sha256)
        with _object_errors(sha256, "look up"):
            return bool(self._fs.exists(path))

    def size(self, sha256: str) -> int:
        """The size in bytes of a stored object; NotFound if it is absent."""
        path = self._path(sha256)
        with _object_errors(sha256, "read"):
            return int(self._fs.size(path))

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored object for reading (the caller closes it); NotFound if it is absent."""
        path = self._path(sha256)
        with _object_errors(sha256, "open"):
            return cast(BinaryIO, self._fs.open(path, "rb"))

    def resolve_range(self, sha256: str, start: int, end: int | None) -> ByteRange:
        """Validate a byte range of a stored object (see :func:`resolve_byte_range`)."""
        return resolve_byte_range(self.size(sha256), start, end)

    def open_range(self, sha256: str, start: int, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of an object, read at once; InvalidInput if unsatisfiable.

        Meant for bounded ranges; stream large ones with :meth:`iter_chunks`.
        """
        byte_range = self.resolve_range(sha256, start, end)
        with _object_errors(sha256, "read"):
            data = self._fs.cat_file(self._path(sha256), byte_range.start, byte_range.end)
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
            try:
                while chunk := stream.read(CHUNK_SIZE):
                    hasher.update(chunk)
            except OSError as exc:
                raise StoreError(f"cannot read artifact sha256:{sha256}: {exc}") from exc
        return hasher.hexdigest() == sha256

    # -- internals ----------------------------------------------------------------------------

    def _path(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self._root}/sha256/{sha256[:2]}/{sha256}"

    def _write_hashing(self, chunks: Iterator[bytes], tmp: str) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        self._fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)
        with self._fs.open(tmp, "wb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        return hasher.hexdigest(), size

    def _read_chunks(self, sha256: str, byte_range: ByteRange, chunk_size: int) -> Iterator[bytes]:
        remaining = byte_range.length
        with self.open(sha256) as stream:
            try:
                stream.seek(byte_range.start)
                while remaining > 0:
                    chunk = stream.read(min(chunk_size, remaining))
                    if not chunk:
                        raise StoreError(f"artifact sha256:{sha256} is shorter than its size")
                    remaining -= len(chunk)
                    yield chunk
            except OSError as exc:
                raise StoreError(f"cannot read artifact sha256:{sha256}: {exc}") from exc

    def _discard(self, tmp: str) -> None:
        try:
            self._fs.rm_file(tmp)
        except FileNotFoundError:
            pass  # moved to its address, or never created
        except OSError:
            # never hide the put's own outcome behind a cleanup failure
            _log.warning("could not remove the temporary upload %s", tmp, exc_info=True)


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
