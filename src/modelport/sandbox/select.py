"""Choosing the sandbox from the settings, in one place."""

from __future__ import annotations

import logging
import shutil
import sys
from typing import Literal

from modelport.sandbox.base import Sandbox
from modelport.sandbox.bwrap import BwrapSandbox
from modelport.sandbox.none import NoSandbox

log = logging.getLogger(__name__)

SandboxChoice = Literal["auto", "none", "bwrap"]


def choose_sandbox(choice: SandboxChoice) -> Sandbox:
    """``none``, ``bwrap``, or ``auto``: bwrap on Linux when installed, else none with a warning.

    ``bwrap`` asked for and missing raises SandboxUnavailable (naming the package to install).
    """
    if choice == "none":
        return NoSandbox()
    if choice == "bwrap":
        return BwrapSandbox()
    if sys.platform.startswith("linux") and shutil.which("bwrap"):
        return BwrapSandbox()
    log.warning(
        "MODULE CODE IS NOT SANDBOXED: bubblewrap (bwrap) is not installed, so catalog modules "
        "and training jobs run with this server's privileges and can read its data directory "
        "and database. Install it (apt-get install bubblewrap), or accept the risk explicitly "
        "with --sandbox none."
    )
    return NoSandbox()
