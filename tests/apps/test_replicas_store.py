"""Replicas sharing a database must share the catalog's artifact store: one started with a
store of its own refuses to start, naming ``catalog_artifacts_url``; the single-process default
(SQLite, ``data_dir/catalog``) needs no configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.apps.platform import assemble_platform
from modelport.errors import StoreError
from modelport.settings import Settings
from modelport.storage.identity import STORE_ID_OBJECT
from tests.apps.conftest import ReplicaFactory


async def test_a_replica_with_a_store_of_its_own_refuses_to_start(
    replica: ReplicaFactory, tmp_path: Path
) -> None:
    async with replica("a", catalog_artifacts_url=str(tmp_path / "a-catalog")) as a:
        assert (await a.http.get("/health/ready")).status_code == 200
        with pytest.raises(StoreError) as refused:
            async with replica("b", catalog_artifacts_url=str(tmp_path / "b-catalog")):
                pytest.fail("a replica on another store started")
        message = refused.value.message
        assert "catalog_artifacts_url" in message
        assert f"has no {STORE_ID_OBJECT}" in message
        # pointed at the store A uses, it starts, and both serve the same catalog
        async with replica("b", catalog_artifacts_url=str(tmp_path / "a-catalog")) as b:
            assert (await b.http.get("/health/ready")).status_code == 200
            assert (await b.http.get("/catalog/modules")).json()["total"] == 0


async def test_replicas_sharing_a_store_start(replica: ReplicaFactory, tmp_path: Path) -> None:
    async with replica("a") as a, replica("b") as b:
        for started in (a, b):
            assert (await started.http.get("/health/ready")).status_code == 200
        shared = Path(a.settings.catalog_artifacts_root())
        assert b.settings.catalog_artifacts_root() == str(shared)
        assert (shared / STORE_ID_OBJECT).is_file()


def test_the_single_process_default_needs_no_configuration(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    for _ in range(2):  # a first start, then a restart
        app, _ = assemble_platform(settings, seed=False)
        assert app is not None
    assert (tmp_path / "data" / "catalog" / STORE_ID_OBJECT).is_file()
