"""safe_child and relative_name on a real directory (real symbolic links); public_addresses with
real name resolution (127.0.0.1, localhost and address literals: nothing leaves this machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import InvalidInput
from modelport.storage.paths import public_addresses, relative_name, safe_child


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "contains '..'"),
        ("a/../../x", "contains '..'"),
        ("/etc/passwd", "is an absolute path"),
        ("a\\..\\x", "contains a backslash"),
        ("a\x00b", "contains a NUL character"),
        ("", "is empty"),
        (" ", "is empty"),
        (".", "names the directory itself"),
    ],
)
def test_names_that_could_leave_their_directory_are_refused(
    tmp_path: Path, name: str, why: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        safe_child(tmp_path, name, "artifacts")
    (message,) = caught.value.errors["artifacts"]
    assert why in message
    assert str(tmp_path) not in message  # never the server's path
    with pytest.raises(InvalidInput):
        relative_name(name)


def test_relative_names_stay_inside(tmp_path: Path) -> None:
    assert safe_child(tmp_path, "weights/model.bin") == tmp_path.resolve() / "weights/model.bin"
    assert safe_child(tmp_path, "./a//b") == tmp_path.resolve() / "a" / "b"
    assert str(relative_name("checkpoints/1.ckpt")) == "checkpoints/1.ckpt"


def test_a_symbolic_link_out_is_refused_and_one_inside_is_not(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside)
    (root / "secret").symlink_to(outside / "secret.txt")
    (root / "in").symlink_to(root / "sub")
    for name in ("out/x.bin", "secret", "out"):
        with pytest.raises(InvalidInput) as caught:
            safe_child(root, name)
        assert caught.value.errors == {
            "name": [f"{name!r} leads out of its directory through a symbolic link"]
        }
    assert safe_child(root, "in/x.bin") == (root / "sub" / "x.bin").resolve()


def test_loopback_hosts_are_refused_unless_allowed() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "169.254.169.254", "10.1.2.3", "192.168.0.1"):
        with pytest.raises(InvalidInput) as caught:
            public_addresses(host, field="source")
        (message,) = caught.value.errors["source"]
        assert "not public" in message, host
        assert "git_allowed_hosts" in message
    assert public_addresses("localhost", allowed=["LOCALHOST"])
    assert public_addresses("127.0.0.1", 443, allowed=["127.0.0.0/8"]) == ("127.0.0.1",)
    assert public_addresses("10.1.2.3", allowed=["10.0.0.0/8"]) == ("10.1.2.3",)
    with pytest.raises(InvalidInput):
        public_addresses("10.1.2.3", allowed=["10.9.0.0/16", "localhost"])


def test_public_addresses_pass_and_unresolvable_hosts_do_not() -> None:
    assert public_addresses("8.8.8.8") == ("8.8.8.8",)
    assert public_addresses("2001:4860:4860::8888") == ("2001:4860:4860::8888",)
    refused = {
        "::ffff:127.0.0.1": "not public",  # IPv4-mapped loopback
        "no-such-host.invalid": "cannot resolve the host 'no-such-host.invalid'",
        "": "the URL names no host",
    }
    for host, why in refused.items():
        with pytest.raises(InvalidInput) as caught:
            public_addresses(host)
        assert why in caught.value.errors["url"][0], host
