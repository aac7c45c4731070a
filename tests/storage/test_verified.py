"""``write_verified`` on a real file system: the target appears whole and checked, or not at all."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.errors import StoreError
from modelport.storage.verified import partial_path, write_verified

BODY = b"weights " * 1000
SHA = hashlib.sha256(BODY).hexdigest()


def pieces(data: bytes, size: int = 333) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_matching_bytes_are_written_in_new_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "model.bin"
    write_verified(pieces(BODY), target, sha256=SHA, size=len(BODY))
    assert target.read_bytes() == BODY
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.bin"]


def test_without_a_digest_nothing_is_checked(tmp_path: Path) -> None:
    target = tmp_path / "any.txt"
    write_verified(iter([b"one", b"", b"two"]), target)
    assert target.read_bytes() == b"onetwo"
    write_verified(iter([]), tmp_path / "empty")
    assert (tmp_path / "empty").read_bytes() == b""


@pytest.mark.parametrize(
    ("sha256", "size"), [(hashlib.sha256(b"other").hexdigest(), len(BODY)), (SHA, len(BODY) + 1)]
)
def test_a_mismatch_leaves_nothing_and_keeps_an_existing_target(
    tmp_path: Path, sha256: str, size: int
) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(StoreError, match=r"checksum mismatch for weights/model\.bin") as caught:
        write_verified(pieces(BODY), target, sha256=sha256, size=size, name="weights/model.bin")
    assert "not written" in caught.value.message
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_the_mismatch_message_can_be_the_callers(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"^corrupt in the store$"):
        write_verified(
            pieces(BODY), tmp_path / "x", sha256="0" * 64, mismatch="corrupt in the store"
        )
    assert list(tmp_path.iterdir()) == []


def test_an_error_while_reading_removes_the_partial_file_and_propagates(tmp_path: Path) -> None:
    seen: list[bool] = []

    def failing() -> Iterator[bytes]:
        yield BODY[:100]
        seen.append(partial_path(tmp_path / "model.bin").exists())  # mid-write: it is there
        raise RuntimeError("dropped")  # as httpx raises its own errors

    with pytest.raises(RuntimeError, match="dropped"):
        write_verified(failing(), tmp_path / "model.bin", sha256=SHA)
    assert seen == [True]
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_becomes_a_store_error_naming_the_target(tmp_path: Path) -> None:
    def failing() -> Iterator[bytes]:
        yield b"x"
        raise PermissionError(13, os.strerror(13))

    target = tmp_path / "model.bin"
    with pytest.raises(StoreError, match=re.escape(f"cannot write {target}: {os.strerror(13)}")):
        write_verified(failing(), target)
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a directory")
    with pytest.raises(StoreError, match="cannot write"):
        write_verified(pieces(BODY), tmp_path / "file" / "model.bin", sha256=SHA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_target_is_replaced_by_a_rename_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    kept = tmp_path / "kept"
    os.link(target, kept)  # a reader still holding the old file sees it whole
    before = target.stat().st_ino
    write_verified(pieces(BODY), target, sha256=SHA, size=len(BODY))
    assert target.read_bytes() == BODY
    assert target.stat().st_ino != before
    assert kept.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "model.bin"]
