"""No sandbox: the process runs as the caller does (``serve`` of one's own model, or a machine
without bubblewrap, where ``up`` warns loudly)."""

from __future__ import annotations

from modelport.sandbox.base import SandboxSpec


class NoSandbox:
    """Runs the command as it is."""

    name = "none"
    confines = False

    def command(self, argv: list[str], spec: SandboxSpec) -> list[str]:
        """``argv`` unchanged (``spec``'s environment is the caller's to apply)."""
        return list(argv)
