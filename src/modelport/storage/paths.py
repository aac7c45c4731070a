"""Where names and addresses given by users may lead: inside a directory, or to a public host.

:func:`safe_child` is the one way a module name, a version or an artifact name becomes a path
under a directory: the path it answers is inside that directory, symbolic links resolved, or it
raises InvalidInput. :func:`relative_name` is the same check without a file system (for fsspec
URLs). :func:`public_addresses` resolves a host (``socket.getaddrinfo``) and refuses one that
leads to loopback, link-local, private or other non-public addresses, unless an allow-list names
the host or the address's network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Final

from modelport.errors import InvalidInput

#: How much of a refused name a message repeats.
_SHOWN: Final = 80

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def shown(value: str) -> str:
    """``value`` quoted for a message, cut to a readable length."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def relative_name(name: str, field: str = "name") -> PurePosixPath:
    """``name`` as a relative POSIX path below its directory; InvalidInput if it could leave it.

    Refused: empty names, NUL characters, backslashes, absolute paths, ``..`` parts, and names
    that are the directory itself (``.``).
    """
    problem = None
    if not isinstance(name, str) or not name.strip():
        problem = "is empty"
    elif "\x00" in name:
        problem = "contains a NUL character"
    elif "\\" in name:
        problem = "contains a backslash (use '/')"
    elif name.startswith("/"):
        problem = "is an absolute path"
    elif ".." in PurePosixPath(name).parts:
        problem = "contains '..'"
    elif PurePosixPath(name) == PurePosixPath("."):
        problem = "names the directory itself"
    if problem is not None:
        what = shown(name) if isinstance(name, str) else "the name"
        raise InvalidInput(
            {field: [f"{what} {problem}: use a relative path such as 'weights/model.bin'"]}
        )
    return PurePosixPath(name)


def safe_child(root: Path, name: str, field: str = "name") -> Path:
    """``root / name``, resolved, when it stays inside ``root``; InvalidInput otherwise.

    Symbolic links are followed as the file system would: a link (in ``name`` or already on
    disk) that leads out of ``root`` is refused. Messages name ``name``, never ``root``.
    """
    relative = relative_name(name, field)
    base = root.resolve()
    target = (base / relative).resolve()
    if target == base or not target.is_relative_to(base):
        raise InvalidInput(
            {field: [f"{shown(name)} leads out of its directory through a symbolic link"]}
        )
    return target


def model_version_dir(data_dir: Path, module: str, version: str) -> Path:
    """``<data_dir>/models/<module>/<version>``, each part checked to stay in its directory."""
    return safe_child(safe_child(data_dir / "models", module, "module"), version, "version")


# -- network hosts ----------------------------------------------------------------------------


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, link-local, private...)."""
    return address.is_global and not address.is_multicast


def _allowed_networks(
    allowed: Iterable[str],
) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks = []
    for given in allowed:
        entry = given.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            if entry:
                names.add(entry)
    return names, networks


def public_addresses(
    host: str, port: int | None = None, *, allowed: Iterable[str] = (), field: str = "url"
) -> tuple[str, ...]:
    """The addresses ``host`` resolves to, when it may be reached; InvalidInput otherwise.

    A host may be reached when every address it resolves to is public, or when ``allowed``
    names the host itself (``git.lab.internal``, ``localhost``) or a network holding the address
    (``10.0.0.0/8``, ``127.0.0.1``). A host that does not resolve is refused too.
    """
    name = host.strip().lower().rstrip(".").strip("[]")
    if not name:
        raise InvalidInput({field: ["the URL names no host"]})
    try:
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidInput({field: [f"cannot resolve the host {shown(name)}"]}) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    names, networks = _allowed_networks(allowed)
    if name in names:
        return addresses
    for text in addresses:
        address = _address(text)
        if is_public(address) or any(address in network for network in networks):
            continue
        raise InvalidInput(
            {
                field: [
                    f"the host {shown(name)} is on a loopback, link-local or private network "
                    "(not public): this server does not reach it unless its admin allows it "
                    "(setting git_allowed_hosts)"
                ]
            }
        )
    return addresses
