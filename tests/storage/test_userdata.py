"""Users' data areas on a real file system: whole and chunked uploads, resuming, quota, names,
and what a job's worker makes of ``data://`` arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from modelport.storage.userdata import (
    PARTIAL_DIR,
    USER_DATA_ENV,
    ResumeFrom,
    UserData,
    area_key,
    area_of,
    owner_area,
    resolve_references,
)

ALICE = "https://idp.example|alice"


def put(data: UserData, name: str, body: bytes, identity: str = ALICE) -> None:
    upload = data.begin(identity, name, total=len(body))
    upload.write(body)
    assert upload.finish().complete


def test_a_whole_upload_is_listed_read_and_deleted(tmp_path: Path) -> None:
    data = UserData(tmp_path, quota=None)
    put(data, "images/digits.zip", b"zipped")
    [entry] = data.list(ALICE)
    assert (entry.name, entry.size) == ("images/digits.zip", 6)
    assert data.path(ALICE, "images/digits.zip").read_bytes() == b"zipped"
    assert data.used(ALICE) == 6
    data.delete(ALICE, "images/digits.zip")
    assert data.list(ALICE) == []
    assert not (area_of(tmp_path, ALICE) / "images").exists()  # emptied folders go too
    with pytest.raises(NotFound):
        data.delete(ALICE, "images/digits.zip")


def test_chunks_resume_where_the_upload_stands(tmp_path: Path) -> None:
    data = UserData(tmp_path, quota=None)
    first = data.begin(ALICE, "big.bin", start=0, total=10, chunked=True)
    first.write(b"01234")
    received = first.finish(end=5)
    assert (received.offset, received.complete) == (5, False)
    assert data.list(ALICE) == []  # not a file until it is whole
    assert data.offset(ALICE, "big.bin") == 5
    with pytest.raises(ResumeFrom) as refused:  # a chunk from elsewhere: resume from 5
        data.begin(ALICE, "big.bin", start=7, total=10, chunked=True)
    assert refused.value.offset == 5
    # a request cut off midway leaves the upload where it stood
    broken = data.begin(ALICE, "big.bin", start=5, total=10, chunked=True)
    broken.write(b"56")
    broken.abort()
    assert data.offset(ALICE, "big.bin") == 5
    last = data.begin(ALICE, "big.bin", start=5, total=10, chunked=True)
    last.write(b"56789")
    assert last.finish(end=10).complete
    assert data.path(ALICE, "big.bin").read_bytes() == b"0123456789"
    assert not (area_of(tmp_path, ALICE) / PARTIAL_DIR / "big.bin").exists()


def test_one_writer_at_a_time_and_a_body_must_match_its_range(tmp_path: Path) -> None:
    data = UserData(tmp_path, quota=None)
    held = data.begin(ALICE, "f.txt", total=4, chunked=True)
    with pytest.raises(Conflict, match="being uploaded"):
        data.begin(ALICE, "f.txt", total=4, chunked=True)
    held.write(b"ab")
    with pytest.raises(InvalidInput, match="Content-Range"):
        held.finish(end=4)  # said 4 bytes, sent 2: nothing kept
    assert data.offset(ALICE, "f.txt") == 0
    over = data.begin(ALICE, "f.txt", total=2)
    with pytest.raises(InvalidInput, match="Content-Range"):
        over.write(b"abc")
    over.abort()


def test_the_quota_counts_every_file_and_a_replaced_one_frees_its_room(tmp_path: Path) -> None:
    data = UserData(tmp_path, quota=10)
    put(data, "a", b"123456")
    with pytest.raises(QuotaExceeded, match="room for"):
        data.begin(ALICE, "b", total=5)
    unsized = data.begin(ALICE, "b")  # no total given: refused as the bytes come
    with pytest.raises(QuotaExceeded):
        unsized.write(b"12345")
    unsized.abort()
    put(data, "a", b"1234567890")  # replacing a: its 6 bytes do not count
    assert data.used(ALICE) == 10
    other = "https://idp.example|bob"
    put(data, "a", b"123456789", identity=other)  # each user has their own room
    few = UserData(tmp_path, quota=None, max_files=1)
    with pytest.raises(QuotaExceeded, match="1 files"):
        few.begin(ALICE, "c", total=1)


@pytest.mark.parametrize(
    "name", ["../escape", "/etc/passwd", ".partial/x", "a/.hidden", "", "a\\b", "x/" * 9 + "y"]
)
def test_names_that_could_leave_the_area_or_hide_are_refused(tmp_path: Path, name: str) -> None:
    data = UserData(tmp_path, quota=None)
    with pytest.raises(InvalidInput) as refused:
        data.begin(ALICE, name, total=1)
    assert "name" in refused.value.errors
    assert str(tmp_path) not in str(refused.value.errors)


def test_a_symlink_out_of_the_area_is_not_followed(tmp_path: Path) -> None:
    data = UserData(tmp_path / "areas", quota=None)
    secret = tmp_path / "secret.txt"
    secret.write_text("platform secret")
    (data.area(ALICE) / "link").symlink_to(secret)
    with pytest.raises(InvalidInput):
        data.path(ALICE, "link")
    assert data.list(ALICE) == []


def test_areas_differ_per_issuer_and_keep_a_readable_name() -> None:
    one, two = area_key("https://a|alice"), area_key("https://b|alice")
    assert one != two
    assert one.startswith("alice-")
    assert two.startswith("alice-")
    assert "/" not in area_key("https://a|../../etc")
    assert area_key("https://a|../../etc").startswith("etc-")


def test_submission_checks_references_and_the_worker_resolves_them(tmp_path: Path) -> None:
    data = UserData(tmp_path, quota=None)
    put(data, "digits.zip", b"zip")
    data.check_references(ALICE, {"data": "data://digits.zip", "epochs": 3, "note": "data"})
    with pytest.raises(InvalidInput) as missing:
        data.check_references(ALICE, {"data": "data://nope.zip", "other": "data://../x"})
    assert set(missing.value.errors) == {"data", "other"}
    assert "upload it first" in missing.value.errors["data"][0]
    with pytest.raises(InvalidInput):
        data.check_references(None, {"data": "data://digits.zip"})

    area = owner_area(ALICE, {USER_DATA_ENV: str(tmp_path)})
    args = resolve_references({"data": "data://digits.zip", "epochs": 3}, area)
    assert args == {"data": str(data.path(ALICE, "digits.zip")), "epochs": 3}
    assert owner_area(ALICE, {}) is None
    with pytest.raises(InvalidInput) as outside:
        resolve_references({"data": "data://digits.zip"}, None)
    assert "on the platform" in outside.value.errors["data"][0]
    with pytest.raises(InvalidInput) as gone:
        resolve_references({"data": "data://gone.zip"}, area)
    assert "no file 'gone.zip'" in gone.value.errors["data"][0]
