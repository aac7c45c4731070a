"""A module project sent to be published: packed without what is not the module, unpacked only
when safe (no path out of it, no link out of it, within its size), else a 4xx naming it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from modelport.catalog.archives import unpack_project
from modelport.client.archive import pack_project
from modelport.errors import InvalidInput, PayloadTooLarge


def project(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    for skipped in (".git", ".venv", "__pycache__", ".mypy_cache"):
        (root / skipped).mkdir()
        (root / skipped / "junk").write_text("not the module")
    return root


def test_a_project_round_trips_without_what_is_not_the_module(tmp_path: Path) -> None:
    archive = tmp_path / "p.tar.gz"
    with archive.open("wb") as out:
        size = pack_project(project(tmp_path / "p"), out, 1_000_000)
    assert size == len("x = 1\n") + len("[project]\nname = 'pkg'\n")
    root = unpack_project(archive, (tmp_path / "out").resolve(), 1_000_000)
    assert root.name == "project"
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert found == ["pyproject.toml", "src/pkg/__init__.py"]


def hostile(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    archive = tmp_path / "h.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        member.size = len(data) if member.isfile() else 0
        out.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return archive


@pytest.mark.parametrize(
    ("name", "kind", "target"),
    [
        ("../escape.txt", tarfile.REGTYPE, ""),
        ("project/link", tarfile.SYMTYPE, "/etc/passwd"),
        ("project/up", tarfile.SYMTYPE, "../../outside"),
        ("project/hard", tarfile.LNKTYPE, "/etc/passwd"),
        ("project/dev", tarfile.CHRTYPE, ""),
    ],
)
def test_nothing_leads_out_of_the_project(
    tmp_path: Path, name: str, kind: bytes, target: str
) -> None:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InvalidInput) as refused:
        unpack_project(hostile(tmp_path, member, b"x"), dest, 1_000_000)
    assert list(refused.value.errors) == ["archive"]
    assert not (tmp_path / "escape.txt").exists()


def test_too_large_empty_or_not_an_archive(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    big = tarfile.TarInfo("project/big.bin")
    with pytest.raises(PayloadTooLarge):
        unpack_project(hostile(tmp_path, big, b"0" * 2000), dest, 1000)
    with pytest.raises(PayloadTooLarge), (tmp_path / "x.tar.gz").open("wb") as out:
        pack_project(project(tmp_path / "p"), out, 10)
    garbage = tmp_path / "g.tar.gz"
    garbage.write_bytes(b"PK\\x03\\x04 not a tar")
    with pytest.raises(InvalidInput) as refused:
        unpack_project(garbage, dest, 1000)
    assert refused.value.errors["archive"][0].startswith("not a gzipped tar of a project")
    empty = tmp_path / "e.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(InvalidInput) as refused:
        unpack_project(empty, dest, 1000)
    assert refused.value.errors == {"archive": ["the archive is empty"]}


def test_an_absolute_path_lands_inside_the_project(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    unpack_project(hostile(tmp_path, tarfile.TarInfo("/etc/evil"), b"x"), dest, 1000)
    assert (dest / "etc" / "evil").read_bytes() == b"x"  # the leading / stripped
