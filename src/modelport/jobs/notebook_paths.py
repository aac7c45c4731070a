"""Where a notebook's pieces are, as both its process and the platform compute them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final

SOCKET_NAME: Final = "jupyter.sock"


def socket_root() -> Path:
    """The host directory under which each notebook gets its socket's directory: short (a
    socket's path has at most 107 bytes), this user's, and not the platform's data directory
    (each notebook's sandbox binds only its own)."""
    return Path(tempfile.gettempdir()) / f"modelport-nb-{os.getuid()}"


def socket_dir(root: str | Path, job_id: str) -> Path:
    """Job ``job_id``'s socket directory (bound writable in its sandbox)."""
    return Path(root) / job_id


def socket_path(args: dict[str, Any], job_id: str) -> Path:
    """The socket JupyterLab of job ``job_id`` listens on (``args``: the notebook's)."""
    return socket_dir(args["socket_root"], job_id) / SOCKET_NAME


def base_url(args: dict[str, Any], job_id: str) -> str:
    """The URL path JupyterLab serves under: the platform's ``/notebooks/<id>/``."""
    return f"{args.get('base_path', '')}/notebooks/{job_id}/"
