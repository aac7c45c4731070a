"""Choosing the sandbox from the settings, in one place."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Literal

from modelport.sandbox.base import Sandbox, SandboxUnavailable
from modelport.sandbox.bwrap import BwrapSandbox
from modelport.sandbox.none import NoSandbox

log = logging.getLogger(__name__)

SandboxChoice = Literal["auto", "none", "bwrap"]


def choose_sandbox(choice: SandboxChoice, forbidden: tuple[Path, ...] = ()) -> Sandbox:
    """``none``, ``bwrap``, or ``auto``: bwrap when it works here, else none with a warning.

    ``bwrap`` asked for and missing or not working raises SandboxUnavailable (saying why).
    ``forbidden``: paths a sandbox never shows (the platform's data directory).
    """
    if choice == "none":
        return NoSandbox()
    if choice == "bwrap":
        sandbox = BwrapSandbox(forbidden=forbidden)
        sandbox.check()
        return sandbox
    why = "bubblewrap (bwrap) is not installed"
    if sys.platform.startswith("linux") and shutil.which("bwrap"):
        sandbox = BwrapSandbox(forbidden=forbidden)
        try:
            sandbox.check()
        except SandboxUnavailable as exc:
            why = exc.message
        else:
            return sandbox
    log.warning(
        "MODULE CODE IS NOT SANDBOXED: %s, so catalog modules and training jobs run with this "
        "server's privileges and can read its data directory and database. Install it (apt-get "
        "install bubblewrap) and allow user namespaces, or accept the risk explicitly with "
        "--sandbox none.",
        why,
    )
    return NoSandbox()
