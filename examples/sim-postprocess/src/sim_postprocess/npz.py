"""Reading the arrays of an ``.npz`` file in chunks along their first axis, never whole.

An ``.npz`` is a zip of ``.npy`` members; each member's header gives its shape and dtype, and
its data follows in C order, so rows of the leading axis (time steps) can be streamed from the
(possibly compressed) member. Works on any seekable binary file: a local one, or an fsspec file
over s3, http, webdav...
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy


@dataclass(frozen=True)
class ArrayInfo:
    """One array of the file: its name, shape and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def row_size(self) -> int:
        """Values in one step (one index of the first axis)."""
        return int(np.prod(self.shape[1:], dtype=np.int64))


class NpzError(ValueError):
    """A file that is not an ``.npz`` this reader reads; the message says why."""


#: What reading a damaged zip member may raise besides NpzError.
READ_ERRORS = (NpzError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def _header(member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = npy.read_magic(member)
    if version == (1, 0):
        return npy.read_array_header_1_0(member)
    return npy.read_array_header_2_0(member)


#: Members an .npz may hold (each is opened to read its header).
MAX_MEMBERS = 1000
#: Bytes the arrays of one .npz may hold together (read in chunks, but each is read whole).
MAX_TOTAL_BYTES = 64 * 1024**3


class NpzReader:
    """The arrays of an open ``.npz`` file, read chunk by chunk.

    Refused before anything is read: more than ``MAX_MEMBERS`` members, arrays whose header
    claims more data than the zip says its member unpacks to, more than ``MAX_TOTAL_BYTES``
    in all (what unpacking would take, in time if not memory).
    """

    def __init__(self, source: IO[bytes]) -> None:
        try:
            self.archive = zipfile.ZipFile(source)
        except zipfile.BadZipFile as exc:
            raise NpzError(f"not an .npz file: {exc}") from None
        members = self.archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise NpzError(f"the .npz has {len(members)} members: at most {MAX_MEMBERS} are read")
        self.arrays: dict[str, ArrayInfo] = {}
        total = 0
        for member in members:
            if member.filename.endswith(".npy"):
                try:
                    with self.archive.open(member) as handle:
                        shape, fortran, dtype = _header(handle)
                except (ValueError, *READ_ERRORS) as exc:
                    raise NpzError(f"{member.filename}: not a .npy array ({exc})") from None
                if dtype.hasobject:
                    raise NpzError(
                        f"{member.filename}: object arrays are not read (they need pickle)"
                    )
                name = member.filename.removesuffix(".npy")
                if fortran and len(shape) > 1:
                    raise NpzError(f"{name}: Fortran-ordered arrays cannot be read by rows")
                size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if size > member.file_size:
                    raise NpzError(f"{name}: its header claims more data than it holds")
                total += size
                if total > MAX_TOTAL_BYTES:
                    limit = MAX_TOTAL_BYTES // 1024**3
                    raise NpzError(f"the arrays hold more than {limit} GiB: not read")
                self.arrays[name] = ArrayInfo(name, shape, dtype)

    def chunks(self, name: str, rows: int) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
        """``(first_row, block)`` for consecutive blocks of at most ``rows`` leading indices."""
        info = self.arrays[name]
        total = info.shape[0] if info.shape else 1
        with self.archive.open(f"{name}.npy") as handle:
            _header(handle)
            for start in range(0, total, rows):
                count = min(rows, total - start)
                want = count * max(info.row_size, 1) * info.dtype.itemsize
                data = handle.read(want)
                if len(data) != want:
                    raise NpzError(f"{name}: the file ends inside the array (truncated?)")
                block = np.frombuffer(data, dtype=info.dtype).reshape((count, *info.shape[1:]))
                yield start, block

    def close(self) -> None:
        """Close the zip (not the underlying file)."""
        self.archive.close()
