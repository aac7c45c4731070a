"""bubblewrap (``bwrap``, Debian package ``bubblewrap``): unprivileged Linux namespaces.

The confined process gets new user, PID, IPC, UTS, cgroup and (unless granted) network
namespaces, no capabilities, its own ``/proc``, a minimal ``/dev``, a private ``/tmp``, and a
root file system that holds only: the system's programs and libraries (``/usr`` and the
``/bin``/``/lib`` links), the few ``/etc`` files programs need (certificates, name resolution,
users), the Python environment (prefixes and every ``sys.path`` entry) — all read-only — plus
the spec's own paths. It dies with its parent, in a session of its own (no terminal tricks).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from modelport.sandbox.base import SandboxSpec, SandboxUnavailable

_TMP: Final = "/tmp"  # noqa: S108 - inside the sandbox: a private tmpfs
_SHM: Final = "/dev/shm"  # noqa: S108 - likewise
#: System directories bound read-only (or recreated as the links they are on merged-/usr).
SYSTEM_DIRS: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: /etc entries a Python program may read: TLS roots, name resolution, users, time zone, loader.
ETC_FILES: Final = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/mime.types",
)


class BwrapSandbox:
    """Confines a process with bubblewrap."""

    name = "bwrap"
    confines = True

    def __init__(self, executable: str | None = None, forbidden: tuple[Path, ...] = ()) -> None:
        """``forbidden``: paths never made visible, even when the Python environment's paths
        would hold them (the platform's data directory: ``python -m`` puts the working
        directory on ``sys.path``, and a server may well run from its data directory)."""
        self.forbidden = tuple(p.resolve() for p in forbidden)
        found = executable or shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(
                "the bwrap sandbox needs bubblewrap: apt-get install bubblewrap "
                "(or choose --sandbox none, which does not confine module code)"
            )
        self.executable = found

    def check(self) -> None:
        """Run ``true`` in the sandbox once: SandboxUnavailable (with bwrap's words) if it cannot
        (user namespaces off, a container's seccomp profile refusing them...)."""
        import subprocess

        try:
            done = subprocess.run(  # noqa: S603 - our own fixed command
                self.command(["true"], SandboxSpec()),
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bwrap cannot run here: {exc}") from exc
        if done.returncode != 0:
            said = done.stderr.strip() or f"exit {done.returncode}"
            raise SandboxUnavailable(
                f"bwrap cannot create its sandbox here ({said}); user namespaces may be off "
                "(sysctl kernel.unprivileged_userns_clone, or a container's seccomp profile)"
            )

    def command(self, argv: list[str], spec: SandboxSpec) -> list[str]:
        """``bwrap [options] -- argv``."""
        args = [
            self.executable,
            "--unshare-all",
            "--unshare-user",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
        ]
        if spec.network:
            args.append("--share-net")
        for directory in SYSTEM_DIRS:
            args += _system_dir(Path(directory))
        for entry in ETC_FILES:
            args += ["--ro-bind-try", entry, entry]
        # a fresh tmpfs at /tmp and /dev/shm: the sandbox's own, not the host's shared ones
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", _TMP, "--tmpfs", _SHM]
        for path in python_paths(self.forbidden):
            args += ["--ro-bind", str(path), str(path)]
        for path in spec.read_only:
            args += ["--ro-bind", str(path), str(path)]
        for path in spec.writable:
            args += ["--bind", str(path), str(path)]
        args += ["--chdir", str(spec.workdir or _TMP)]
        return [*args, "--", *argv]


def _system_dir(path: Path) -> list[str]:
    if path.is_symlink():  # merged /usr: /lib -> usr/lib
        return ["--symlink", str(path.readlink()), str(path)]
    if path.is_dir():
        return ["--ro-bind", str(path), str(path)]
    return []


def python_paths(forbidden: tuple[Path, ...] = ()) -> list[Path]:
    """What the interpreter needs to start and import what this process can import, without
    any path that is, holds or lies inside a ``forbidden`` one."""
    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    candidates += [Path(p) for p in sys.path if p]
    candidates.append(Path(sys.executable))
    found: list[Path] = []
    for path in _with_real_paths(candidates):
        wanted = path.exists() and not _under_system_dir(path) and path not in found
        if wanted and not any(_overlaps(path, f) for f in forbidden):
            found.append(path)
    # parents first, and a path already inside a bound one is not bound again
    found.sort(key=lambda p: len(p.parts))
    return [p for i, p in enumerate(found) if not any(p.is_relative_to(q) for q in found[:i])]


def _with_real_paths(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        yield path.absolute()
        yield path.resolve()


def _overlaps(path: Path, forbidden: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(forbidden) or forbidden.is_relative_to(resolved)


def _under_system_dir(path: Path) -> bool:
    return any(path.is_relative_to(d) for d in SYSTEM_DIRS if Path(d).is_dir())
