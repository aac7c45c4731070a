"""A user's zip is judged before it is unpacked: real zip bombs, member names, links, counts."""

from __future__ import annotations

import io
import re
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from image_classifier.dataset import (
    ArchiveLimits,
    digit_image,
    make_demo_zip,
    read_class_folders,
)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 GiB of zeros as one image of a class folder, deflated to about 1 MB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    zeros = bytes(16 * MiB)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("cats/zeros.png", "w", force_zip64=True) as member,
    ):
        for _ in range(64):
            member.write(zeros)
    return path


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(bomb: Path) -> None:
    assert bomb.stat().st_size < 2 * MiB
    started = time.monotonic()
    with bomb.open("rb") as handle, pytest.raises(ValueError) as caught:
        read_class_folders(handle)
    message = str(caught.value)
    assert re.fullmatch(
        r"the zip member 'cats/zeros.png' is compressed 1\d{3} to 1 \(a zip bomb\?\): "
        r"at most 100 to 1 is read",
        message,
    ), message
    assert time.monotonic() - started < 5  # judged from its directory, not inflated


def test_the_total_size_is_capped_whatever_the_ratio(bomb: Path) -> None:
    lenient = ArchiveLimits(max_ratio=float("inf"))
    with bomb.open("rb") as handle, pytest.raises(ValueError) as caught:
        read_class_folders(handle, lenient)
    assert str(caught.value) == (
        "the zip unpacks to more than 512 MB: that is more than a training reads"
    )


def test_the_member_count_is_capped(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(101):
            archive.writestr(f"cats/{i}.txt", "")
    with many.open("rb") as handle, pytest.raises(ValueError) as caught:
        read_class_folders(handle, ArchiveLimits(max_members=100))
    assert str(caught.value) == "the zip has 101 members: at most 100 are read"


@pytest.mark.parametrize(
    "name", ["/etc/cats/1.png", "../cats/1.png", "cats/../../1.png", "cats\\..\\1.png"]
)
def test_member_names_outside_the_zip_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "names.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dogs/1.png", b"x")
        archive.writestr(zipfile.ZipInfo(name), b"x")
    with path.open("rb") as handle, pytest.raises(ValueError) as caught:
        read_class_folders(handle)
    assert str(caught.value) == f"the zip member {name!r} is not a relative path inside the zip"


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    link = zipfile.ZipInfo("cats/1.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with path.open("rb") as handle, pytest.raises(ValueError) as caught:
        read_class_folders(handle)
    assert str(caught.value) == "the zip member 'cats/1.png' is a symbolic link: links are refused"


class Unseekable(io.RawIOBase):
    """A stream that only reads forward (an HTTP body)."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_an_unseekable_stream_is_buffered_up_to_a_cap(tmp_path: Path) -> None:
    data = make_demo_zip(tmp_path / "digits.zip", digits=(0, 1), per_class=5).read_bytes()
    images = read_class_folders(io.BufferedReader(Unseekable(data)))
    assert images.classes == ["digit-0", "digit-1"]
    small = ArchiveLimits(max_archive_bytes=len(data) - 1)
    with pytest.raises(ValueError, match=r"the zip is larger than 0 MB"):
        read_class_folders(io.BufferedReader(Unseekable(data)), small)


def test_real_images_pass_the_default_limits(tmp_path: Path) -> None:
    path = tmp_path / "real.zip"
    png = tmp_path / "a.png"
    digit_image(np.full(64, 8.0)).save(png)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("cats/1.png", "cats/2.png", "dogs/1.png"):
            archive.write(png, name)
    with path.open("rb") as handle:
        assert read_class_folders(handle).classes == ["cats", "dogs"]
