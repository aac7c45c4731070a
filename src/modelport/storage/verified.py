"""One way to write downloaded bytes to disk: checked against their sha256, whole or not at all.

:func:`write_verified` streams chunks into a hidden partial file beside the target
(``.NAME.part``), hashing while it writes, and renames it over the target only when the
digest and size match. On a mismatch or any error the partial file is removed and the target
is left as it was; a failure to write raises :class:`~modelport.errors.StoreError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from modelport.errors import StoreError


def partial_path(target: Path) -> Path:
    """The hidden file ``target`` is written to before it is complete."""
    return target.with_name(f".{target.name}.part")


def write_verified(
    chunks: Iterable[bytes],
    target: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    name: str | None = None,
    mismatch: str | None = None,
) -> None:
    """Write ``chunks`` to ``target`` atomically, checked against ``sha256`` and ``size``.

    Without ``sha256`` nothing is checked (``size`` is only checked along with a digest).
    ``name`` is what messages call the file (default: the target's file name); ``mismatch``
    replaces the message of the StoreError raised when the bytes do not match. Errors raised
    by ``chunks`` propagate, an OSError as StoreError; nothing is left behind either way.
    """
    partial = partial_path(target)
    hasher, written = hashlib.sha256(), 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                written += len(chunk)
                out.write(chunk)
        if sha256 is not None and (
            hasher.hexdigest() != sha256 or (size is not None and written != size)
        ):
            raise StoreError(
                mismatch
                or f"checksum mismatch for {name or target.name}: expected sha256 {sha256} "
                f"({size} bytes), got {hasher.hexdigest()} ({written} bytes); not written"
            )
        partial.replace(target)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        with suppress(OSError):  # cleanup must not hide the outcome
            partial.unlink(missing_ok=True)
