"""Where a notebook's pieces are on the platform's machine (computed there, never stored in the
job, whose record its owner reads: no server path reaches a client)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final

from modelport.storage.userdata import area_key

SOCKET_NAME: Final = "jupyter.sock"


def socket_root() -> Path:
    """The host directory under which each notebook gets its socket's directory: short (a
    socket's path has at most 107 bytes), this user's, and not the platform's data directory
    (each notebook's sandbox binds only its own)."""
    return Path(tempfile.gettempdir()) / f"modelport-nb-{os.getuid()}"


def socket_dir(job_id: str) -> Path:
    """Job ``job_id``'s socket directory (bound writable in its sandbox)."""
    return socket_root() / job_id


def socket_path(job_id: str) -> Path:
    """The socket JupyterLab of job ``job_id`` listens on."""
    return socket_dir(job_id) / SOCKET_NAME


def notebook_home(data_dir: Path, owner: str | None) -> Path:
    """``owner``'s notebook home, kept between their notebooks (not created)."""
    return data_dir / "notebooks" / area_key(owner or "-")


def base_url(args: dict[str, Any], job_id: str) -> str:
    """The URL path JupyterLab serves under: the platform's ``/notebooks/<id>/``."""
    return f"{args.get('base_path', '')}/notebooks/{job_id}/"
