"""A module project sent to be published (``POST /catalog/modules/archive``): a gzipped tar,
unpacked into a temporary directory with Python's ``data`` filter (no absolute paths, no
``..``, no links leading out, no devices, no set-uid bits), within a size and a file count.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Final

from modelport.errors import InvalidInput, PayloadTooLarge

MAX_MEMBERS: Final = 20_000
FIELD: Final = "archive"


def unpack_project(archive: Path, dest: Path, max_bytes: int) -> Path:
    """Unpack ``archive`` into ``dest`` (empty); the project's directory in it (its one
    top-level directory, else ``dest``). InvalidInput naming ``archive`` for anything that is
    not a safe gzipped tar; PayloadTooLarge past ``max_bytes`` of files."""
    try:
        with tarfile.open(archive, mode="r:gz") as opened:
            members = _checked_members(opened, max_bytes)
            opened.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise InvalidInput({FIELD: [f"refused: {exc}"]}) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput({FIELD: [f"not a gzipped tar of a project: {exc}"]}) from exc
    tops = list(dest.iterdir())
    return tops[0] if len(tops) == 1 and tops[0].is_dir() else dest


def _checked_members(opened: tarfile.TarFile, max_bytes: int) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in opened:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise InvalidInput({FIELD: [f"more than {MAX_MEMBERS} files"]})
        total += member.size if member.isfile() else 0
        if total > max_bytes:
            raise PayloadTooLarge(max_bytes)
    if not members:
        raise InvalidInput({FIELD: ["the archive is empty"]})
    return members
