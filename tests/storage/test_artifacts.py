"""The content-addressed artifact store, on a local directory and on fsspec's memory file system."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import fsspec
import pytest

from modelport.errors import InvalidInput, NotFound, StoreError
from modelport.storage import CHUNK_SIZE, ArtifactStore, ByteRange, StoredArtifact

DATA = bytes(range(256)) * 40  # 10240 bytes, every byte value
DATA_SHA = hashlib.sha256(DATA).hexdigest()
ABSENT_SHA = hashlib.sha256(b"never stored").hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "memory"])
def root_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "local":
        yield str(tmp_path / "artifacts")
        return
    url = f"memory://artifacts-{uuid.uuid4().hex}"
    yield url
    fs, root = fsspec.core.url_to_fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def store(root_url: str) -> ArtifactStore:
    return ArtifactStore(root_url)


def stored_files(root_url: str) -> list[str]:
    """Every file under the root, relative to it."""
    fs, root = fsspec.core.url_to_fs(root_url)
    if not fs.exists(root):
        return []
    return sorted(path.removeprefix(root.rstrip("/") + "/") for path in fs.find(root))


def object_path(root_url: str, digest: str) -> str:
    return f"{fsspec.core.url_to_fs(root_url)[1]}/sha256/{digest[:2]}/{digest}"


class TrickleStream(io.RawIOBase):
    """A non-seekable stream that hands out a few bytes per read, as sockets do."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


class FailingStream(io.RawIOBase):
    """A stream that breaks after its first chunk."""

    def __init__(self) -> None:
        self._reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._reads += 1
        if self._reads > 1:
            raise ConnectionResetError("peer went away")
        return b"x" * 100


# -- put ----------------------------------------------------------------------------------------


def test_put_bytes_stores_at_its_address(store: ArtifactStore, root_url: str) -> None:
    artifact = store.put(DATA)
    assert artifact == StoredArtifact(DATA_SHA, len(DATA), artifact.url)
    assert artifact.url.endswith(f"/sha256/{DATA_SHA[:2]}/{DATA_SHA}")
    assert stored_files(root_url) == [f"sha256/{DATA_SHA[:2]}/{DATA_SHA}"]
    assert store.exists(DATA_SHA)
    assert store.size(DATA_SHA) == len(DATA)
    with store.open(DATA_SHA) as stream:
        assert stream.read() == DATA
    with fsspec.open(artifact.url, "rb") as by_url:
        assert by_url.read() == DATA


def test_put_path(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "weights.pt"
    source.write_bytes(DATA * 300)  # ~3 MiB: several chunks
    artifact = store.put(source)
    assert (artifact.sha256, artifact.size) == (sha(DATA * 300), len(DATA) * 300)
    assert store.verify(artifact.sha256)


def test_put_streams(store: ArtifactStore) -> None:
    assert store.put(io.BytesIO(DATA)).sha256 == DATA_SHA
    trickled = store.put(cast(BinaryIO, TrickleStream(DATA * 3, step=777)))
    assert (trickled.sha256, trickled.size) == (sha(DATA * 3), len(DATA) * 3)
    with store.open(trickled.sha256) as stream:
        assert stream.read() == DATA * 3


def test_put_empty(store: ArtifactStore) -> None:
    artifact = store.put(b"")
    assert (artifact.sha256, artifact.size) == (sha(b""), 0)
    assert store.verify(artifact.sha256)
    assert list(store.iter_chunks(artifact.sha256)) == []


def test_same_content_is_stored_once(store: ArtifactStore, root_url: str, tmp_path: Path) -> None:
    source = tmp_path / "copy.bin"
    source.write_bytes(DATA)
    first = store.put(DATA)
    assert store.put(source) == first
    assert store.put(io.BytesIO(DATA), expected_sha256=DATA_SHA) == first
    assert stored_files(root_url) == [f"sha256/{DATA_SHA[:2]}/{DATA_SHA}"]


def test_matching_checksum_is_accepted(store: ArtifactStore) -> None:
    assert store.put(DATA, expected_sha256=DATA_SHA).sha256 == DATA_SHA


def test_checksum_mismatch_leaves_nothing_behind(store: ArtifactStore, root_url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.put(io.BytesIO(DATA), expected_sha256=ABSENT_SHA)
    assert info.value.errors == {
        "sha256": [f"checksum mismatch: expected {ABSENT_SHA}, got {DATA_SHA}"]
    }
    assert stored_files(root_url) == []
    assert not store.exists(DATA_SHA)


def test_checksum_mismatch_keeps_other_objects(store: ArtifactStore, root_url: str) -> None:
    kept = store.put(b"kept")
    with pytest.raises(InvalidInput):
        store.put(DATA, expected_sha256=kept.sha256)
    assert stored_files(root_url) == [f"sha256/{kept.sha256[:2]}/{kept.sha256}"]


def test_failing_source_leaves_nothing_behind(store: ArtifactStore, root_url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.put(cast(BinaryIO, FailingStream()))
    assert "source" in info.value.errors
    assert stored_files(root_url) == []


def test_missing_source_file(store: ArtifactStore, root_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        store.put(tmp_path / "nope.bin")
    assert stored_files(root_url) == []


def test_put_rejects_text(store: ArtifactStore) -> None:
    with pytest.raises(TypeError):
        store.put(io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("a/path/as/str")  # type: ignore[arg-type]


# -- reading, ranges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 1, DATA[:1]),  # first byte
        (100, 200, DATA[100:200]),  # middle
        (len(DATA) - 1, None, DATA[-1:]),  # last byte
        (5000, None, DATA[5000:]),  # suffix to the end
        (5000, len(DATA) + 999, DATA[5000:]),  # an end past the object is clamped, as HTTP does
        (0, None, DATA),
    ],
)
def test_ranges(store: ArtifactStore, start: int, end: int | None, expected: bytes) -> None:
    store.put(DATA)
    assert store.open_range(DATA_SHA, start, end) == expected
    assert b"".join(store.iter_chunks(DATA_SHA, start, end, chunk_size=333)) == expected


def test_resolve_range_gives_content_range(store: ArtifactStore) -> None:
    store.put(DATA)
    byte_range = store.resolve_range(DATA_SHA, 100, 200)
    assert byte_range == ByteRange(100, 200, len(DATA))
    assert byte_range.length == 100
    assert byte_range.content_range() == f"bytes 100-199/{len(DATA)}"


@pytest.mark.parametrize(
    ("start", "end"),
    [(len(DATA), None), (len(DATA) + 10, len(DATA) + 20), (-1, None), (10, 10), (10, 5)],
)
def test_unsatisfiable_ranges(store: ArtifactStore, start: int, end: int | None) -> None:
    store.put(DATA)
    with pytest.raises(InvalidInput) as info:
        store.open_range(DATA_SHA, start, end)
    assert "range" in info.value.errors
    with pytest.raises(InvalidInput):
        store.iter_chunks(DATA_SHA, start, end)  # refused before the first chunk


def test_every_range_of_an_empty_object_is_unsatisfiable(store: ArtifactStore) -> None:
    empty = store.put(b"").sha256
    with pytest.raises(InvalidInput):
        store.open_range(empty, 0, None)


def test_iter_chunks_sizes(store: ArtifactStore) -> None:
    store.put(DATA)
    chunks = list(store.iter_chunks(DATA_SHA, chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, 2048]
    with pytest.raises(InvalidInput):
        store.iter_chunks(DATA_SHA, chunk_size=0)


def test_absent_objects(store: ArtifactStore) -> None:
    assert not store.exists(ABSENT_SHA)
    for call in (
        store.open,
        store.size,
        store.delete,
        store.verify,
        store.iter_chunks,
        lambda digest: store.open_range(digest, 0, 1),
    ):
        with pytest.raises(NotFound):
            call(ABSENT_SHA)


def test_delete(store: ArtifactStore, root_url: str) -> None:
    store.put(DATA)
    store.delete(DATA_SHA)
    assert not store.exists(DATA_SHA)
    assert stored_files(root_url) == []
    with pytest.raises(NotFound):
        store.delete(DATA_SHA)


def test_verify_detects_corruption(store: ArtifactStore, root_url: str) -> None:
    store.put(DATA)
    assert store.verify(DATA_SHA)
    fs, _ = fsspec.core.url_to_fs(root_url)
    fs.pipe_file(object_path(root_url, DATA_SHA), DATA[:-1] + b"\x00")
    assert not store.verify(DATA_SHA)


# -- validation, errors -------------------------------------------------------------------------

INVALID_HASHES = [
    "",
    "abc",
    DATA_SHA.upper(),
    DATA_SHA[:-1],
    DATA_SHA + "0",
    DATA_SHA[:-1] + "g",
    DATA_SHA + "\n",
    "../" * 21 + "x",
    "/etc/passwd",
    "sha256:" + DATA_SHA,
]


@pytest.mark.parametrize("digest", INVALID_HASHES)
def test_invalid_hashes_are_refused(store: ArtifactStore, root_url: str, digest: str) -> None:
    for call in (
        store.open,
        store.size,
        store.exists,
        store.delete,
        store.verify,
        store.iter_chunks,
        lambda d: store.open_range(d, 0, 1),
    ):
        with pytest.raises(InvalidInput) as info:
            call(digest)
        assert list(info.value.errors) == ["sha256"]
    with pytest.raises(InvalidInput) as info:
        store.put(DATA, expected_sha256=digest)
    assert list(info.value.errors) == ["expected_sha256"]
    assert stored_files(root_url) == []


def test_unknown_protocol() -> None:
    with pytest.raises(InvalidInput) as info:
        ArtifactStore("nosuchprotocol://bucket/artifacts")
    assert "root_url" in info.value.errors


def test_file_system_errors_are_wrapped(tmp_path: Path) -> None:
    root = tmp_path / "not-a-directory"
    root.write_bytes(b"")
    store = ArtifactStore(str(root))
    with pytest.raises(StoreError) as info:
        store.put(DATA)
    assert isinstance(info.value.__cause__, OSError)


# -- memory use ---------------------------------------------------------------------------------


def _peak_bytes(call: Any) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_file_is_streamed_not_read_whole(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    hasher = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(20):
            block = os.urandom(CHUNK_SIZE)
            hasher.update(block)
            out.write(block)
    store = ArtifactStore(str(tmp_path / "artifacts"))
    results: list[StoredArtifact] = []

    peak = _peak_bytes(lambda: results.append(store.put(source)))
    assert results[0].sha256 == hasher.hexdigest()
    assert results[0].size == 20 * CHUNK_SIZE
    assert peak < 4 * CHUNK_SIZE, f"put() peaked at {peak} bytes for a 20 MiB file"

    with source.open("rb") as stream:
        peak = _peak_bytes(lambda: store.put(stream, expected_sha256=hasher.hexdigest()))
    assert peak < 4 * CHUNK_SIZE

    peak = _peak_bytes(lambda: store.verify(hasher.hexdigest()))
    assert peak < 4 * CHUNK_SIZE
    peak = _peak_bytes(lambda: sum(len(c) for c in store.iter_chunks(hasher.hexdigest())))
    assert peak < 4 * CHUNK_SIZE
