"""The catalog store's identity on SQLite and PostgreSQL, over local directories and real S3 and
WebDAV servers: the first replica claims its store, the others must find the same id in theirs,
replicas claiming at once agree, and refusals name the setting without credentials."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from modelport.db import connect
from modelport.db.tables import platform_state
from modelport.errors import StoreError
from modelport.storage.backends import options_for
from modelport.storage.identity import CATALOG_STORE, STORE_ID_OBJECT, check_store_identity
from tests.jobs.conftest import postgresql_url, sqlite_url, store_url
from tests.storage.test_backends import Target, dav, down_target, location, s3

__all__ = ["dav", "postgresql_url", "s3", "sqlite_url", "store_url"]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = connect(store_url)
    yield engine
    engine.dispose()


def recorded(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(platform_state.c.value).where(platform_state.c.name == CATALOG_STORE)
        ).scalar()


def test_the_first_replica_claims_its_store_and_the_others_must_share_it(
    engine: Engine, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    store_id = check_store_identity(engine, str(shared), {})
    assert (shared / STORE_ID_OBJECT).read_text().strip() == store_id
    assert recorded(engine) == store_id
    assert check_store_identity(engine, str(shared), {}) == store_id  # a restart, a replica

    own = tmp_path / "own"  # a replica left with its local default
    with pytest.raises(StoreError) as info:
        check_store_identity(engine, str(own), {})
    message = info.value.message
    assert "catalog_artifacts_url" in message
    assert f"has no {STORE_ID_OBJECT}" in message
    assert not (own / STORE_ID_OBJECT).exists()  # refused without writing anything

    other = tmp_path / "other"  # a store another database claimed
    other.mkdir()
    (other / STORE_ID_OBJECT).write_text("0123456789abcdef\n")
    with pytest.raises(StoreError, match=f"has another {STORE_ID_OBJECT}"):
        check_store_identity(engine, str(other), {})
    assert recorded(engine) == store_id


def test_a_database_without_an_id_keeps_the_stores_own(engine: Engine, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / STORE_ID_OBJECT).write_text("feedfacefeedface\n")
    assert check_store_identity(engine, str(store), {}) == "feedfacefeedface"
    assert recorded(engine) == "feedfacefeedface"
    assert (store / STORE_ID_OBJECT).read_text() == "feedfacefeedface\n"


def test_replicas_starting_together_agree_on_one_id(store_url: str, tmp_path: Path) -> None:
    engines = [connect(store_url) for _ in range(4)]
    results: list[str | BaseException] = []
    start = threading.Barrier(len(engines))

    def replica(engine: Engine) -> None:
        start.wait()
        try:
            results.append(check_store_identity(engine, str(tmp_path / "shared"), {}))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=replica, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(set(results)) == 1, results
        assert results[0] == (tmp_path / "shared" / STORE_ID_OBJECT).read_text().strip()
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["s3", "webdav"])
def test_replicas_on_a_storage_server(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue("s3" if kind == "s3" else "dav")
    target: Target = location(kind, server)
    engine = connect(f"sqlite:///{tmp_path}/catalog.db")
    try:
        options = options_for(target.url, target.storage_options)
        store_id = check_store_identity(engine, target.url, options)
        assert target.files() == [STORE_ID_OBJECT]
        assert check_store_identity(engine, target.url, options) == store_id
        elsewhere: Target = location(kind, server)  # another prefix on the same server
        with pytest.raises(StoreError) as info:
            check_store_identity(
                engine, elsewhere.url, options_for(elsewhere.url, elsewhere.storage_options)
            )
        assert elsewhere.url in info.value.message
        gone = down_target(kind)
        gone_options = options_for(gone.url, gone.storage_options)
        with pytest.raises(StoreError) as down:  # a store that is down is named, and refused
            check_store_identity(engine, gone.url, gone_options)
        assert "unavailable" in down.value.message
        for secret in ("test-secret-key", "dav-password"):
            assert secret not in info.value.message + down.value.message
    finally:
        engine.dispose()
