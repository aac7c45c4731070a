"""Your data on the platform: the ``/data`` routes of a real ``build_platform`` app, and a
training of the image classifier on an uploaded zip named ``data://``, in its sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.auth.config import identity_key
from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog.setup import build_catalog_service
from modelport.db import connect
from modelport.settings import Settings
from tests.api.test_platform import PlatformFactory, bearer, finished, platform
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, idp, keys
from tests.gateway.conftest import META

__all__ = ["idp", "keys", "platform"]  # fixtures, re-exported


@pytest.mark.slow
async def test_upload_whole_and_in_chunks_list_download_delete(platform: PlatformFactory) -> None:
    async with platform() as p:
        http = p.http
        empty = await http.get("/data/")
        assert empty.json() == {"files": [], "used": 0, "quota": 10 * 1024 * 1024 * 1024}

        whole = await http.put("/data/notes/readme.txt", content=b"hello")
        assert whole.status_code == 201, whole.text
        assert whole.json()["complete"] is True

        # chunks: 4 + 4 + 2 bytes; a chunk from the wrong place answers where to resume
        first = await http.put(
            "/data/big.bin", content=b"0123", headers={"Content-Range": "bytes 0-3/10"}
        )
        assert first.status_code == 202
        assert first.json() == {
            "name": "big.bin", "size": 4, "offset": 4, "complete": False, "total": 10
        }  # fmt: skip
        skipped = await http.put(
            "/data/big.bin", content=b"89", headers={"Content-Range": "bytes 8-9/10"}
        )
        assert skipped.status_code == 409
        assert skipped.json()["offset"] == 4
        asked = await http.put("/data/big.bin", headers={"Content-Range": "bytes */10"})
        assert asked.json()["offset"] == 4
        await http.put("/data/big.bin", content=b"4567", headers={"Content-Range": "bytes 4-7/10"})
        last = await http.put(
            "/data/big.bin", content=b"89", headers={"Content-Range": "bytes 8-9/10"}
        )
        assert last.status_code == 201
        assert last.json()["complete"] is True

        posted = await http.post("/data/", files={"file": ("digits.zip", b"PK\x03\x04zip")})
        assert posted.status_code == 201, posted.text
        listing = (await http.get("/data/")).json()
        names = [(f["name"], f["size"]) for f in listing["files"]]
        assert names == [("big.bin", 10), ("digits.zip", 7), ("notes/readme.txt", 5)]
        assert listing["used"] == 22

        got = await http.get("/data/big.bin")
        assert got.content == b"0123456789"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "attachment" in got.headers["content-disposition"]

        assert (await http.delete("/data/big.bin")).status_code == 204
        gone = await http.get("/data/big.bin")
        assert gone.status_code == 404
        assert str(p.settings.data_dir) not in gone.text


@pytest.mark.slow
async def test_bad_requests_name_what_is_wrong(platform: PlatformFactory) -> None:
    async with platform(user_data_quota_mb=1) as p:
        http = p.http
        for name in ("a/.hidden", "%2e%2e/x"):
            refused = await http.put(f"/data/{name}", content=b"x")
            assert refused.status_code == 422, (name, refused.text)
            assert "name" in refused.json()
        bad_range = await http.put(
            "/data/f", content=b"x", headers={"Content-Range": "bytes=0-0/1"}
        )
        assert bad_range.status_code == 422
        assert "Content-Range" in bad_range.json()
        short = await http.put("/data/f", content=b"x", headers={"Content-Range": "bytes 0-3/4"})
        assert short.status_code == 422
        assert "Content-Range" in short.json()
        too_big = await http.put("/data/big", content=b"x" * (1024 * 1024 + 1))
        assert too_big.status_code == 429
        assert "room for" in too_big.json()["message"]
        no_file = await http.post("/data/", data={"name": "x"})
        assert no_file.status_code == 422
        assert "file" in no_file.json()
        assert (await http.get("/data/")).json()["files"] == []
        partial = p.settings.user_data_dir()
        assert [q for q in partial.rglob("*") if q.is_file()] == []  # nothing half-written


@pytest.mark.slow
async def test_each_user_sees_only_their_own_data(
    platform: PlatformFactory, idp: Idp, keys: dict[str, Key], tmp_path: Path
) -> None:
    idp.publish("a", keys["a1"])
    given = auth_settings(idp, f"sqlite:///{tmp_path}/platform.db")
    settings = Settings(data_dir=tmp_path / "data", **given)
    tokens = TokenStore(connect(settings.store_url()))
    ada, ben = (identity_key(idp.issuer("a"), who) for who in ("alice", "bob"))
    scopes = [s for s in SCOPES if s != "admin"]
    alice = bearer(tokens, ada, scopes, ["user", "trainer"])
    bob = bearer(tokens, ben, scopes, ["user", "trainer"])
    reader = bearer(tokens, ben, ["read"], ["user", "trainer"])
    user_only = bearer(tokens, ben, scopes, ["user"])

    async with platform(**given) as p:
        assert (await p.http.get("/data/")).status_code == 401
        put = await p.http.put("/data/secret.csv", content=b"a,b", headers=alice)
        assert put.status_code == 201
        assert (await p.http.get("/data/", headers=bob)).json()["files"] == []
        assert (await p.http.get("/data/secret.csv", headers=bob)).status_code == 404
        assert (await p.http.delete("/data/secret.csv", headers=bob)).status_code == 404
        assert (await p.http.get("/data/", headers=reader)).status_code == 200
        assert (await p.http.put("/data/x", content=b"1", headers=reader)).status_code == 403
        assert (await p.http.get("/data/", headers=user_only)).status_code == 403
        job = await p.http.post(
            "/jobs",
            json={"model": "image-classifier", "args": {"data": "data://secret.csv"}},
            headers=bob,
        )
        assert job.status_code in {404, 422}  # not bob's file (nor, unseeded, his module)
        assert (await p.http.get("/data/secret.csv", headers=alice)).content == b"a,b"


@pytest.mark.slow
async def test_the_image_classifier_trains_on_an_uploaded_zip(
    platform: PlatformFactory, tmp_path: Path
) -> None:
    from image_classifier.dataset import make_demo_zip

    archive = make_demo_zip(tmp_path / "digits.zip", digits=(0, 1), per_class=20)
    async with platform() as p:
        assert any(label.startswith("image-classifier") for label in p.published)
        missing = await p.http.post(
            "/jobs", json={"model": "image-classifier", "args": {"data": "data://digits.zip"}}
        )
        assert missing.status_code == 422
        assert "upload it first" in missing.json()["data"][0]

        uploaded = await p.http.put("/data/mine/digits.zip", content=archive.read_bytes())
        assert uploaded.status_code == 201
        args = {"data": "data://mine/digits.zip", "epochs": 3}
        created = await p.http.post("/jobs", json={"model": "image-classifier", "args": args})
        assert created.status_code == 201, created.text
        job = await finished(p.http, created.json()["id"])
        assert job["status"] == "succeeded", job["error"]
        assert job["args"]["data"] == "data://mine/digits.zip"  # as given, no server path
        assert job["result"]["classes"] == ["digit-0", "digit-1"]


@pytest.mark.slow
async def test_a_file_typed_training_argument_takes_a_file_of_your_data(
    platform: PlatformFactory, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    build_catalog_service(settings).registry.publish(
        "file-reader",
        "1.0.0",
        META,
        load_spec="mp_fixtures.reader:FileReader",
        package="mp_fixtures",
    )
    async with platform() as p:
        await p.http.put("/data/table.csv", content=b"a,b\n1,2\n3,4\n")
        schema = (await p.http.get("/v2/models/file-reader/openapi.json")).json()
        assert '"format": "binary"' in json.dumps(schema)  # the form offers the data control
        for bad in ("/etc/passwd", "table.csv"):
            refused = await p.http.post(
                "/jobs", json={"model": "file-reader", "args": {"table": bad}}
            )
            assert refused.status_code == 422, refused.text
            assert "data://" in refused.json()["table"][0]
        created = await p.http.post(
            "/jobs", json={"model": "file-reader", "args": {"table": "data://table.csv"}}
        )
        assert created.status_code == 201, created.text
        job = await finished(p.http, created.json()["id"])
        assert job["status"] == "succeeded", job["error"]
        assert job["result"] == {"file": "table.csv", "rows": 2}
        assert job["args"] == {"table": "data://table.csv", "header": True}
