"""The sandbox interface: how a process running module code is confined.

Module code is untrusted (the catalog is crowdsourced). A :class:`Sandbox` turns the command of
a worker or job process into one that runs confined by :class:`SandboxSpec`: the Python
environment and the paths named ``read_only`` visible read-only, ``writable`` ones writable,
nothing else of the host's files (no platform data directory, database, other modules' files),
its own process tree (no ``/proc`` of the platform), no network unless granted.

Backends: ``none`` (:mod:`modelport.sandbox.none`: nothing confined; ``serve`` of one's own
model) and ``bwrap`` (:mod:`modelport.sandbox.bwrap`: Linux namespaces through bubblewrap).
:func:`~modelport.sandbox.select.choose_sandbox` picks one from the settings. Limits on memory
are applied by the process itself before it imports module code (``limits.py``), whatever the
backend: they are inherited and cannot be raised again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelport.errors import ModelportError


class SandboxUnavailable(ModelportError):
    """The configured sandbox cannot run on this machine (its tool is missing)."""


@dataclass(frozen=True)
class SandboxSpec:
    """What a confined process may see and do."""

    #: directories and files visible read-only (besides the Python environment)
    read_only: tuple[Path, ...] = ()
    #: directories it may write (created by the caller beforehand)
    writable: tuple[Path, ...] = ()
    #: whether it may open network connections (else only its own loopback)
    network: bool = False
    #: its working directory (one of ``writable``; default: a private, empty /tmp)
    workdir: Path | None = None


class Sandbox(Protocol):
    """A way to confine a process."""

    #: ``none`` or ``bwrap``
    name: str
    #: whether the process really is confined (a message or a test may want to know)
    confines: bool

    def command(self, argv: list[str], spec: SandboxSpec) -> list[str]:
        """The command that runs ``argv`` confined by ``spec`` (its environment is the
        caller's: it must hold nothing module code may not see)."""
        ...
