"""A module project as the client sends it to be published: a gzipped tar of its files.

What is left out: version control, virtual environments, caches and build output (they are not
the module, and can be large). Symbolic links are kept as links (the server refuses those that
lead out of the project).
"""

from __future__ import annotations

import fnmatch
import tarfile
from pathlib import Path
from typing import BinaryIO, Final

from modelport.errors import InvalidInput, PayloadTooLarge

#: Never part of a published project (nor of a notebook's copy of one).
SKIPPED: Final = (
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    "node_modules",
    ".*_cache",
    ".ipynb_checkpoints",
    "dist",
    "build",
    "*.egg-info",
)
#: The directory the project is under in the archive.
TOP: Final = "project"


def skipped(name: str) -> bool:
    """Whether a file or directory of this name is left out."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in SKIPPED)


def pack_project(root: Path, out: BinaryIO, max_bytes: int) -> int:
    """Write ``root``'s files (but :data:`SKIPPED`) as a gzipped tar to ``out``; how many
    bytes of files it holds. InvalidInput if ``root`` is not a directory; PayloadTooLarge past
    ``max_bytes`` of files."""
    if not root.is_dir():
        raise InvalidInput({"source": [f"not a directory: {root}"]})
    total = 0
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path in sorted(_files(root)):
            info = archive.gettarinfo(str(path), f"{TOP}/{path.relative_to(root).as_posix()}")
            total += info.size if info.isfile() else 0
            if total > max_bytes:
                raise PayloadTooLarge(max_bytes)
            if info.isfile():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return total


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for path in root.iterdir():
        if skipped(path.name):
            continue
        if path.is_dir() and not path.is_symlink():
            found += _files(path)
        else:
            found.append(path)
    return found
