"""Cloning module repositories: what may be cloned (:class:`GitPolicy`) and how.

:func:`fetch_repository` runs ``git clone --depth 1`` (no shell, no prompts) into a sibling
temporary directory and moves it into place only once the clone succeeded, so a failed clone
never leaves anything in ``dest``. A clone is capped in time and in size (what it downloads,
then what its checkout would write, before writing it) and checks symbolic links out as plain
files. Which URLs it takes is a :class:`GitPolicy`: the default trusts its caller (the
operator's CLI, imports); :meth:`GitPolicy.for_publishers` is for what reaches the server over
HTTP: ``https://`` (``ssh`` only when the admin allows it) to public hosts, unless the admin's
allow-list names them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from modelport.errors import InvalidInput, ModelportError
from modelport.storage.paths import public_addresses

#: URL schemes git may clone from; ``ext::`` and other transports run commands and are refused.
ALLOWED_SCHEMES: Final = frozenset({"https", "http", "ssh", "git", "file"})
#: The largest clone by default: what git downloads, and what its checkout writes.
DEFAULT_MAX_CLONE_BYTES: Final = 500 * 1024 * 1024
#: How often a running clone's size is measured.
_POLL_SECONDS: Final = 0.2
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}\.?$")
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?[\w.-]+:(?!//)")


@dataclass(frozen=True)
class GitPolicy:
    """Which repository URLs may be cloned, and how large a clone may be.

    The default trusts its caller (the operator: the CLI, catalog imports, seeding): local
    paths, ``file://``, ``git://``, ``http(s)://`` and ``ssh``, any host. With ``untrusted``
    (what publishers send over HTTP), only ``https://`` (and ``ssh``/scp-like URLs with
    ``allow_ssh``) to hosts that resolve to public addresses, unless ``allowed_hosts`` names
    the host or its network; git then follows no redirect and connects to the checked address.
    """

    untrusted: bool = False
    allow_ssh: bool = False
    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_CLONE_BYTES

    @classmethod
    def for_publishers(
        cls,
        *,
        allow_ssh: bool = False,
        allowed_hosts: Sequence[str] = (),
        max_bytes: int = DEFAULT_MAX_CLONE_BYTES,
    ) -> GitPolicy:
        """The policy for URLs that publishers send over HTTP."""
        return cls(True, allow_ssh, tuple(allowed_hosts), max_bytes)


def fetch_repository(
    url: str,
    dest: Path,
    *,
    ref: str | None = None,
    timeout: float = 60,
    policy: GitPolicy | None = None,
    field: str | None = None,
) -> Path:
    """Shallow-clone ``url`` (at branch or tag ``ref``) into ``dest``; nothing left on failure.

    ``policy`` (default: trusted) says which URLs may be cloned and how large the clone may be;
    errors name ``field`` (default: the URL, its password redacted).
    """
    policy = policy or GitPolicy()
    pinned = check_repository_url(url, policy, field=field)
    if ref is not None and (not ref.strip() or ref.startswith("-")):
        raise InvalidInput({"ref": [f"not a branch or tag name: {ref!r}"]})
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput({str(dest): ["the clone destination exists and is not empty"]})
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    clone = _Clone(field or redact_url(url), staging, policy.max_bytes, timeout)
    git = [_git(), *_git_options(url, policy, pinned)]
    command = [*git, "clone", "--quiet", "--depth", "1", "--no-tags", "--no-checkout"]
    command += ["--branch", ref] if ref else []
    command += ["--", url, str(staging / "repo")]
    try:
        clone.run(command, "git clone")
        clone.check_checkout(staging / "repo")
        # symbolic links become plain files holding their target: nothing in the checkout
        # leads out of it, whatever the repository holds
        checkout = [*git, "-C", str(staging / "repo"), "-c", "core.symlinks=false"]
        clone.run([*checkout, "reset", "--quiet", "--hard"], "git checkout")
        if dest.exists():
            dest.rmdir()
        (staging / "repo").rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def is_git_url(source: str) -> bool:
    """Whether ``source`` names a remote repository (``scheme://...`` or scp-like ``host:path``)."""
    return "://" in source or bool(_SCP_LIKE.match(source))


def check_repository_url(
    url: str, policy: GitPolicy | None = None, *, field: str | None = None
) -> tuple[str, ...]:
    """Refuse a URL git should not clone under ``policy`` (default: trusted); InvalidInput
    naming ``field`` (default: the redacted URL).

    Always refused: unknown schemes, transport helpers (``ext::``), options. Under an untrusted
    policy also: anything but ``https://`` (and ssh with ``allow_ssh``), and hosts that are not
    public (see :func:`~modelport.storage.paths.public_addresses`) unless allowed. Answers the
    addresses the host was checked at (untrusted ``https`` only), for git to connect to.
    """
    shown = redact_url(url)
    key = field or shown or "url"
    if not url.strip() or url.startswith("-"):
        raise InvalidInput({key: ["not a repository URL or path"]})
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in ALLOWED_SCHEMES:
            allowed = ", ".join(sorted(ALLOWED_SCHEMES))
            raise InvalidInput({key: [f"unsupported URL scheme {scheme!r}; use {allowed}"]})
    elif "::" in url.split("/", 1)[0]:
        raise InvalidInput({key: ["git transport helpers (<transport>::<address>) are refused"]})
    # Otherwise a local path, or scp-like ssh (user@host:path), which git treats as ssh.
    if policy is None or not policy.untrusted:
        return ()
    return _check_untrusted(url, policy, key)


def _check_untrusted(url: str, policy: GitPolicy, key: str) -> tuple[str, ...]:
    schemes = "https:// or ssh://" if policy.allow_ssh else "https://"
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        raise InvalidInput({key: ["a repository URL has no spaces, control characters or '\\'"]})
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            host, port = parts.hostname or "", parts.port
        except ValueError:
            raise InvalidInput({key: ["the URL's port is not a number"]}) from None
    elif _SCP_LIKE.match(url):
        scheme, port = "ssh", None
        host = url.split(":", 1)[0].rsplit("@", 1)[-1]
    else:
        raise InvalidInput(
            {key: [f"not a repository URL: publish from a git repository's {schemes} URL"]}
        )
    if scheme not in ("https", "ssh") or (scheme == "ssh" and not policy.allow_ssh):
        raise InvalidInput(
            {key: [f"this server clones only {schemes} URLs, not {scheme}: use {schemes}"]}
        )
    if not _HOST.match(host) and not _is_ip_literal(host):
        raise InvalidInput({key: ["the URL names no valid host"]})
    addresses = public_addresses(host, port, allowed=policy.allowed_hosts, field=key)
    return addresses if scheme == "https" else ()


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _git_options(url: str, policy: GitPolicy, pinned: tuple[str, ...]) -> list[str]:
    """``-c`` options for an untrusted clone: its protocol only, no redirects, the checked host."""
    if not policy.untrusted:
        return []
    options = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always"]
    options += ["-c", "protocol.ssh.allow=always"] if policy.allow_ssh else []
    options += ["-c", "http.followRedirects=false"]
    parts = urlsplit(url) if "://" in url else None
    if pinned and parts is not None and parts.hostname and not _is_ip_literal(parts.hostname):
        # git (libcurl) connects to the addresses checked, not to what DNS says a moment later
        listed = ",".join(f"[{a}]" if ":" in a else a for a in pinned)
        options += ["-c", f"http.curloptResolve={parts.hostname}:{parts.port or 443}:{listed}"]
    return options


def redact_url(url: str) -> str:
    """The URL with any password or token in its user part replaced by ``***``."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class _Clone:
    """Runs the git commands of one clone within its time and size limits."""

    shown_url: str
    staging: Path
    max_bytes: int
    timeout: float
    started: float = field(default_factory=time.monotonic)

    def run(self, command: list[str], what: str) -> None:
        """Run one git command; InvalidInput when it fails, overruns the time or the size."""
        with tempfile.TemporaryFile() as stderr:
            try:
                # No shell, and the URL comes after "--": it can only be a repository argument.
                process = subprocess.Popen(  # noqa: S603
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=_git_env(),
                    start_new_session=True,  # so a kill also ends git's helpers (index-pack...)
                )
            except OSError as exc:
                raise ModelportError(f"cannot run git: {exc}") from exc
            self._wait(process)
            if process.returncode != 0:
                stderr.seek(0)
                message = stderr.read().decode("utf-8", errors="replace").strip()
                raise InvalidInput(
                    {self.shown_url: [f"{what} failed: {message or f'exit {process.returncode}'}"]}
                )

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        while True:
            try:
                process.wait(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - self.started > self.timeout:
                self._kill(process)
                raise InvalidInput(
                    {self.shown_url: [f"git clone did not finish within {self.timeout:g} s"]}
                )
            if _tree_size(self.staging) > self.max_bytes:
                self._kill(process)
                raise self._too_large()
        if _tree_size(self.staging) > self.max_bytes:
            raise self._too_large()

    def check_checkout(self, repo: Path) -> None:
        """Refuse a checkout that would write more than the limit (before it writes it)."""
        listing = git_output(repo, "ls-tree", "-r", "-l", "--full-tree", "HEAD", redact=False)
        total = 0
        for line in (listing or "").splitlines():
            size = line.split("\t", 1)[0].split()[-1]
            total += int(size) if size.isdigit() else 0
        if total + _tree_size(self.staging) > self.max_bytes:
            raise self._too_large()

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def _too_large(self) -> InvalidInput:
        limit = f"{self.max_bytes / (1024 * 1024):g} MB"
        return InvalidInput(
            {self.shown_url: [f"the repository is larger than this server's limit of {limit}"]}
        )


def _tree_size(root: Path) -> int:
    """Bytes of every file under ``root`` (files that vanish meanwhile count as nothing)."""
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise ModelportError("git is not installed (no 'git' on PATH)")
    return git


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password nobody will type
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env["LC_ALL"] = "C"  # git's messages in English, as they are shown to users and matched
    env["GIT_LFS_SKIP_SMUDGE"] = "1"  # no large-file downloads past the clone's size limit
    return env


def git_output(path: Path, *args: str, redact: bool = True) -> str | None:
    """What a git command prints in ``path`` (stripped, redacted), or None when it fails."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed git subcommands, no shell
            [git, "-C", str(path), *args],
            capture_output=True,
            text=True,
            env=_git_env(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip()
    if result.returncode != 0 or not value:
        return None
    return redact_url(value) if redact else value
