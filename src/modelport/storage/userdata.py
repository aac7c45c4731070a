"""A user's own data on the platform: files uploaded once, then trained on by reference.

Each identity (``issuer|subject``) has one area, a directory under the platform's user-data root
named by :func:`area_key` (readable, and unique per identity). Files in it are named by relative
paths (``images/digits.zip``), checked by :func:`~modelport.storage.paths.safe_child`; names whose
parts start with ``.`` are refused (the area keeps its partial uploads under ``.partial/``).

An upload arrives whole or in chunks, each starting where the previous one ended (the
``Content-Range: bytes START-END/TOTAL`` protocol of resumable uploads): the bytes go to a partial
file, which replaces the named file atomically once its last byte is in. A chunk that does not
start at the partial file's end is refused with the offset to resume from. The quota counts
complete and partial files.

A training argument ``data://<name>`` names the caller's file: the job service checks that it
exists when the job is submitted, and the job's worker (which sees only its owner's area, read
only) replaces it with the file's path before the module's ``train`` runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from modelport.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from modelport.storage.paths import relative_name, safe_child, shown

#: How a training argument names a file of its owner's data area.
SCHEME: Final = "data://"
#: Where an area keeps uploads still arriving.
PARTIAL_DIR: Final = ".partial"
#: The executor sets this for a platform's job: the root of every user's area (the worker reads
#: its owner's, :func:`area_key`, from it).
USER_DATA_ENV: Final = "MODELPORT_WORKER_USER_DATA"
_SLUG: Final = re.compile(r"[^A-Za-z0-9._-]+")
MiB: Final = 1024 * 1024


def area_key(identity: str) -> str:
    """The directory name of ``identity``'s area: its subject made safe, plus a hash of the
    whole identity (two issuers' equal subjects get different areas)."""
    subject = identity.rsplit("|", 1)[-1]
    slug = _SLUG.sub("-", subject).strip(".-")[:40] or "user"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


def area_of(root: Path, identity: str) -> Path:
    """``identity``'s area under ``root`` (not created)."""
    return root / area_key(identity)


@dataclass(frozen=True)
class DataFile:
    """A complete file in an area."""

    name: str
    size: int
    modified: datetime

    def view(self) -> dict[str, Any]:
        """As the API shows it."""
        return {"name": self.name, "size": self.size, "modified": self.modified.isoformat()}


@dataclass(frozen=True)
class Received:
    """Where an upload stands after a write: bytes in so far, and whether the file is whole."""

    name: str
    offset: int
    complete: bool
    total: int | None = None

    def view(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "name": self.name,
            "size": self.offset,
            "offset": self.offset,
            "complete": self.complete,
            "total": self.total,
        }


def check_name(name: str, field: str = "name") -> str:
    """``name`` if it may name a file of an area (relative, no hidden parts, not too long)."""
    parts = relative_name(name, field).parts
    if any(part.startswith(".") for part in parts):
        raise InvalidInput({field: [f"{shown(name)}: names may not start with '.'"]})
    if len(parts) > 8 or any(len(part.encode()) > 255 for part in parts):
        raise InvalidInput({field: [f"{shown(name)}: at most 8 folders deep, 255 bytes a part"]})
    return "/".join(parts)


class UserData:
    """Every user's data area under ``root``, each holding at most ``quota`` bytes (None: no
    cap) in at most ``max_files`` files."""

    def __init__(self, root: Path, quota: int | None, max_files: int = 10_000) -> None:
        self.root = root
        self.quota = quota
        self.max_files = max_files

    def area(self, identity: str) -> Path:
        """``identity``'s area, created."""
        path = area_of(self.root, identity)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- reading ----------------------------------------------------------------------------

    def list(self, identity: str) -> list[DataFile]:
        """The complete files of ``identity``'s area, by name."""
        area = self.area(identity)
        found = []
        for path in area.rglob("*"):
            relative = path.relative_to(area)
            if relative.parts[0] == PARTIAL_DIR or path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(DataFile(relative.as_posix(), stat.st_size, modified))
        return sorted(found, key=lambda f: f.name)

    def used(self, identity: str) -> int:
        """Bytes held by ``identity``'s area, partial uploads included."""
        area = self.area(identity)
        return sum(p.stat().st_size for p in area.rglob("*") if p.is_file() and not p.is_symlink())

    def path(self, identity: str, name: str, field: str = "name") -> Path:
        """The path of ``identity``'s complete file ``name``; NotFound if there is none."""
        path = safe_child(self.area(identity), check_name(name, field), field)
        if not path.is_file():
            raise NotFound(f"no file {shown(name)} in your data")
        return path

    def offset(self, identity: str, name: str) -> int:
        """Bytes of ``name``'s upload received so far (0: none under way)."""
        partial = self._partial(identity, check_name(name))
        return partial.stat().st_size if partial.is_file() else 0

    # -- writing ----------------------------------------------------------------------------

    def begin(
        self,
        identity: str,
        name: str,
        *,
        start: int = 0,
        total: int | None = None,
        chunked: bool = False,
    ) -> Upload:
        """Open ``name``'s upload to write bytes from ``start`` (0: a new upload, replacing any
        partial one); ``total`` is the whole file's size when known. Unless ``chunked``, the
        request's bytes are the whole file; chunked, it is whole once ``total`` bytes are in.

        Conflict (with the offset to resume from) if ``start`` is not where the partial file
        ends; QuotaExceeded if ``total`` cannot fit.
        """
        name = check_name(name)
        if total is not None and start > total:
            raise InvalidInput({"Content-Range": [f"starts at {start}, past the total {total}"]})
        area = self.area(identity)
        target = safe_child(area, name)
        if target.is_dir():
            raise InvalidInput({"name": [f"{shown(name)} is a folder of your data"]})
        partial = self._partial(identity, name)
        partial.parent.mkdir(parents=True, exist_ok=True)
        handle = open(partial, "ab")  # noqa: SIM115 - owned by the Upload
        locked = False
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(f"{shown(name)} is being uploaded by another request") from None
            locked = True
            have = os.fstat(handle.fileno()).st_size
            if start == 0 and have:
                handle.truncate(0)
                have = 0
            if start != have:
                raise ResumeFrom(name, have)
            if not target.exists() and self._count(area) >= self.max_files:
                raise QuotaExceeded(f"your data holds {self.max_files} files, the most it may")
            replaced = target.stat().st_size if target.is_file() else 0
            room = None if self.quota is None else self.quota - self.used(identity) + replaced
            if room is not None and total is not None and total - start > room:
                raise QuotaExceeded(self._full(total - start, room))
        except BaseException:
            if locked and os.fstat(handle.fileno()).st_size == 0:  # nothing of it to keep
                partial.unlink(missing_ok=True)
                _prune(partial.parent, area / PARTIAL_DIR)
            handle.close()
            raise
        return Upload(self, name, target, partial, handle, start, total, room, chunked)

    def delete(self, identity: str, name: str) -> None:
        """Remove ``name`` (a file, or an upload under way); NotFound if neither exists."""
        name = check_name(name)
        target = safe_child(self.area(identity), name)
        partial = self._partial(identity, name)
        removed = False
        for path in (target, partial):
            if path.is_file():
                path.unlink()
                removed = True
        if not removed:
            raise NotFound(f"no file {shown(name)} in your data")
        _prune(target.parent, self.area(identity))

    # -- references -------------------------------------------------------------------------

    def check_references(self, identity: str | None, args: Mapping[str, Any]) -> None:
        """InvalidInput naming each argument whose ``data://`` file ``identity`` does not
        have (or that names one without an owner)."""
        problems: dict[str, list[str]] = {}
        for field, value in args.items():
            if not (isinstance(value, str) and value.startswith(SCHEME)):
                continue
            if identity is None:
                problems[field] = ["data:// files belong to a signed-in user"]
                continue
            try:
                self.path(identity, value[len(SCHEME) :], field)
            except NotFound:
                problems[field] = [
                    f"no file {shown(value[len(SCHEME) :])} in your data: upload it first "
                    "(dashboard, `modelport data put`, or PUT /data/<name>)"
                ]
            except InvalidInput as exc:
                problems.update(exc.errors)
        if problems:
            raise InvalidInput(problems)

    # -- internals --------------------------------------------------------------------------

    def _partial(self, identity: str, name: str) -> Path:
        return safe_child(self.area(identity) / PARTIAL_DIR, name)

    def _count(self, area: Path) -> int:
        return sum(1 for p in area.rglob("*") if p.is_file())

    @staticmethod
    def _full(size: int, room: int) -> str:
        return (
            f"your data has room for {max(room, 0) / MiB:.1f} MiB more, and this file needs "
            f"{size / MiB:.1f} MiB: delete some of your files first"
        )


class ResumeFrom(Conflict):
    """A chunk that does not start where the upload stands: resume from ``offset``."""

    def __init__(self, name: str, offset: int) -> None:
        super().__init__(f"the upload of {shown(name)} stands at byte {offset}: resume from there")
        self.offset = offset


class Upload:
    """One request's bytes of an upload: :meth:`write` them, then :meth:`finish` (or
    :meth:`abort`, which leaves the partial file as it was before this request)."""

    def __init__(  # noqa: PLR0917 - made by UserData.begin only
        self,
        data: UserData,
        name: str,
        target: Path,
        partial: Path,
        handle: IO[bytes],
        start: int,
        total: int | None,
        room: int | None,
        chunked: bool = False,
    ) -> None:
        self.data, self.name, self.target, self.partial = data, name, target, partial
        self._handle, self._start, self.total, self._room = handle, start, total, room
        self.chunked = chunked
        self.offset = start

    def write(self, piece: bytes) -> None:
        """Append ``piece``; QuotaExceeded past the area's room or the declared total."""
        self.offset += len(piece)
        if self.total is not None and self.offset > self.total:
            raise InvalidInput({"Content-Range": [f"more bytes than the total {self.total}"]})
        if self._room is not None and self.offset - self._start > self._room:
            raise QuotaExceeded(self.data._full(self.offset - self._start, self._room))
        self._handle.write(piece)

    def finish(self, end: int | None = None) -> Received:
        """Close this request's part: the file is whole when its total is in (``end``: the
        offset this chunk said it reaches)."""
        try:
            if end is not None and self.offset != end:
                raise InvalidInput(
                    {"Content-Range": [f"said bytes up to {end}, the body held {self.offset}"]}
                )
            self._handle.flush()
            os.fsync(self._handle.fileno())
            complete = not self.chunked if self.total is None else self.offset == self.total
            if complete:
                self.target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.partial, self.target)
                _prune(self.partial.parent, self.partial.parents[len(self.name.split("/")) - 1])
            return Received(self.name, self.offset, complete, self.total)
        except BaseException:
            self._rewind()
            raise
        finally:
            self._handle.close()

    def abort(self) -> None:
        """Forget this request's bytes (the partial file ends where it did before)."""
        try:
            self._rewind()
        finally:
            self._handle.close()

    def _rewind(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._handle.truncate(self._start)
            if self._start == 0:
                self.partial.unlink(missing_ok=True)


def _prune(folder: Path, stop: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``stop`` while empty."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# -- in a job's worker -----------------------------------------------------------------------------


def owner_area(owner: str | None, environ: Mapping[str, str] = os.environ) -> Path | None:
    """The data area of a platform job's ``owner``, as the executor told its worker (None:
    not a platform job, or nobody's)."""
    root = environ.get(USER_DATA_ENV)
    return area_of(Path(root), owner) if root and owner else None


def resolve_references(args: Mapping[str, Any], area: Path | None) -> dict[str, Any]:
    """``args`` with each ``data://<name>`` value replaced by that file's path in ``area``;
    InvalidInput naming the argument when there is no such file (or no area)."""
    resolved = dict(args)
    for field, value in args.items():
        if not (isinstance(value, str) and value.startswith(SCHEME)):
            continue
        name = value[len(SCHEME) :]
        if area is None:
            raise InvalidInput({field: ["data:// names a file of your data on the platform"]})
        path = safe_child(area, check_name(name, field), field)
        if not path.is_file():
            raise InvalidInput({field: [f"no file {shown(name)} in your data"]})
        resolved[field] = str(path)
    return resolved
