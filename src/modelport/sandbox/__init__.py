"""Where module code runs: a sandbox around every worker and job process (``base.py``)."""

from __future__ import annotations

from modelport.sandbox.base import Sandbox, SandboxSpec, SandboxUnavailable
from modelport.sandbox.select import choose_sandbox

__all__ = ["Sandbox", "SandboxSpec", "SandboxUnavailable", "choose_sandbox"]
