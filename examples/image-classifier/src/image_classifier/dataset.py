"""Labelled images from a zip of class folders, and a demo zip rendered from scikit-learn's digits.

A training set is a zip whose images sit in one folder per class: ``cats/1.jpg``, ``dogs/a.png``
(or ``photos/cats/1.jpg``: the class is always the image's own folder). Hidden files and macOS
resource forks are skipped.

A user's zip is checked before anything is unpacked (:class:`ArchiveLimits`): how many members,
how many bytes they unpack to, how far each is compressed (a zip bomb unpacks 1 GB from 1 MB),
and member names: no absolute paths, no ``..``, no symbolic links.
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from image_classifier.features import SIDE, pixels
from modelport import Field, TrainContext

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: the special ``data`` value a training reads the demo zip for (made by :func:`make_demo_zip`)
DEMO_DATA = "demo"
#: the digits' 8x8 images are drawn this many times larger in the demo zip
DEMO_SCALE = 4


MiB = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """What a user's zip may hold before any of it is unpacked."""

    #: members (files and folders)
    max_members: int = 20_000
    #: bytes all members unpack to, together
    max_total_bytes: int = 512 * MiB
    #: unpacked / compressed size of one member (images barely compress; zeros do 1000 to 1)
    max_ratio: float = 100.0
    #: members smaller than this are not judged by their ratio (tiny files compress oddly)
    ratio_floor_bytes: int = 1 * MiB
    #: bytes of the zip itself, when it must be buffered (a stream that cannot seek)
    max_archive_bytes: int = 512 * MiB


def check_archive(archive: zipfile.ZipFile, limits: ArchiveLimits = ArchiveLimits()) -> None:
    """ValueError, saying which limit and which member, unless ``archive`` is within ``limits``
    and every member is a plain file or folder with a relative name."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise ValueError(
            f"the zip has {len(members)} members: at most {limits.max_members} are read"
        )
    total = 0
    for info in members:
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or "\x00" in name or not parts:
            raise ValueError(f"the zip member {name!r} is not a relative path inside the zip")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ValueError(f"the zip member {name!r} is a symbolic link: links are refused")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise ValueError(
                f"the zip member {name!r} is compressed {ratio:.0f} to 1 (a zip bomb?): "
                f"at most {limits.max_ratio:g} to 1 is read"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ValueError(
                f"the zip unpacks to more than {limits.max_total_bytes // MiB} MB: "
                "that is more than a training reads"
            )


@dataclass(frozen=True)
class LabelledImages:
    """Pixel rows, their class indices, and the class names (sorted)."""

    pixels: NDArray[np.float64]
    labels: NDArray[np.int64]
    classes: list[str]


def _is_image(name: PurePosixPath) -> bool:
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in name.parts)
    return not hidden and name.suffix.lower() in IMAGE_SUFFIXES and len(name.parts) >= 2


def read_class_folders(
    source: IO[bytes], limits: ArchiveLimits = ArchiveLimits(), side: int = SIDE
) -> LabelledImages:
    """Read a zip of class folders, each image as ``side * side`` pixels; ValueError when it has
    no images or fewer than two classes, or when it is over ``limits`` (checked before anything
    is unpacked)."""
    if source.seekable():
        data: IO[bytes] = source
    else:
        buffered = source.read(limits.max_archive_bytes + 1)
        if len(buffered) > limits.max_archive_bytes:
            raise ValueError(f"the zip is larger than {limits.max_archive_bytes // MiB} MB")
        data = io.BytesIO(buffered)
    try:
        archive = zipfile.ZipFile(data)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"the training data is not a zip file: {exc}") from None
    rows, names = [], []
    with archive:
        check_archive(archive, limits)
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or not _is_image(path):
                continue
            with archive.open(info) as member:
                try:
                    rows.append(pixels(io.BytesIO(member.read()), side))
                except (UnidentifiedImageError, OSError) as exc:
                    raise ValueError(f"{info.filename} is not a readable image: {exc}") from None
            names.append(path.parent.name)
    classes = sorted(set(names))
    if len(classes) < 2:
        raise ValueError(
            f"the zip needs images in at least two class folders (found {len(rows)} images in "
            f"{classes or 'no folders'}): e.g. cats/1.jpg, dogs/2.jpg"
        )
    index = {name: i for i, name in enumerate(classes)}
    return LabelledImages(
        np.vstack(rows), np.array([index[n] for n in names], dtype=np.int64), classes
    )


def digit_image(values: NDArray[np.float64]) -> Image.Image:
    """One 8x8 digit (0..16, ink high) drawn dark on white, DEMO_SCALE times larger."""
    gray = np.round(255 - values.reshape(8, 8) * 255 / 16).astype(np.uint8)
    side = 8 * DEMO_SCALE
    return Image.fromarray(gray, mode="L").resize((side, side), Image.Resampling.NEAREST)


def make_demo_zip(
    dest: Path, digits: Sequence[int] = (0, 1, 7), per_class: int = 60, offset: int = 0
) -> Path:
    """Write a zip of class folders (``digit-0/...png``) of scikit-learn's handwritten digits.

    ``offset`` skips that many images of each class first, so that two calls can make a
    training set and a disjoint test set.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for digit in digits:
            chosen = np.flatnonzero(data.target == digit)[offset : offset + per_class]
            for n, i in enumerate(chosen):
                buffer = io.BytesIO()
                digit_image(data.data[i]).save(buffer, format="PNG")
                archive.writestr(f"digit-{digit}/{n:04d}.png", buffer.getvalue())
    return dest


def data_field() -> Any:
    """The ``data`` argument of a training on a zip of class folders (both image pilots')."""
    return Field(
        description=(
            "A zip of class folders: a file of your data (data://digits.zip), a path or URL "
            '(file, s3, http); or "demo" for a small demo set of handwritten digits '
            "(0, 1, 7) generated on the fly, offline"
        ),
        examples=[DEMO_DATA],
        # the dashboard's training form: upload a zip, choose one of your data, or the demo
        json_schema_extra={
            "x-modelport-data": {"media_types": ["application/zip"], "demo": DEMO_DATA}
        },
    )


@contextmanager
def training_zip(ctx: TrainContext, data: str) -> Iterator[IO[bytes]]:
    """The zip ``data`` names, opened through ``ctx`` (the platform's rules for data URLs); for
    ``"demo"``, the demo zip, made in a temporary directory."""
    with tempfile.TemporaryDirectory() as workdir:
        if data == DEMO_DATA:
            data = str(make_demo_zip(Path(workdir) / "digits.zip"))
            print("demo data: digits 0, 1 and 7 drawn from scikit-learn's digits")
        with ctx.open(data) as source:
            yield source


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m image_classifier.dataset OUT.zip [--digits 0 1 7] [--per-class 60]``."""
    import argparse

    parser = argparse.ArgumentParser(description=make_demo_zip.__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--digits", type=int, nargs="+", default=[0, 1, 7])
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args(argv)
    make_demo_zip(args.dest, args.digits, args.per_class, args.offset)
    print(args.dest)


if __name__ == "__main__":
    main()
