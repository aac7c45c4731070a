"""Ray Serve replicas fetch a version's artifacts from a catalog store that needs credentials
(WebDAV with basic auth, on 127.0.0.1): they get the options of ``catalog_artifacts_url`` as an
argument, fetch with them, then forget them before the module's code is imported.

First the replica itself (what Serve runs, without the cluster), then through a real local Ray
cluster and the gateway's routes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelport.apps.worker import start_app
from modelport.catalog.setup import build_catalog_service
from modelport.errors import StartFailed
from modelport.gateway.exposure import worker_scope
from modelport.gateway.process import worker_config
from modelport.gateway.ray_serve import ModelReplica, RayServePool, _reply
from modelport.settings import Settings
from tests.gateway.conftest import children, eventually, publish
from tests.gateway.test_ray_serve import gateway_app
from tests.storage.servers import StorageServer
from tests.storage.test_backends import SECRETS, Target, dav, location

__all__ = ["dav"]  # the module's WebDAV server (a fixture)

pytestmark = pytest.mark.slow

ANSWER = "tests.gateway.models:Answer"  # answers with its version's answer.txt
PREDICT = {"method": "POST", "path": "/v2/models/answer/predict", "query_string": b""}


def settings_on(target: Target, data_dir: Path, **more: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        catalog_artifacts_url=target.url,
        storage_options=target.storage_options,
        **more,  # type: ignore[arg-type]
    )


async def test_a_replica_fetches_with_the_stores_options_then_forgets_them(
    dav: StorageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = location("webdav", dav)
    settings = settings_on(target, tmp_path / "data")
    catalog = build_catalog_service(settings)
    record = publish(catalog, "answer", ANSWER, "1.0.0", {"answer.txt": b"from the share"})
    config = worker_config(settings, catalog, record)
    assert not any(secret in repr(config) for secret in SECRETS)  # the config has none
    options = settings.storage_options_for(target.url)
    # start_app sets these for the module, as in a replica's own process: restored afterwards
    monkeypatch.setenv("MODELPORT_MODEL_DIR", "")
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(tmp_path / "data"))

    without = ModelReplica(config, start_app)  # no options: the share refuses it
    with pytest.raises(StartFailed, match=r"its artifacts cannot be fetched: .*401"):
        await without.http(worker_scope(PREDICT, []), b"")

    replica = ModelReplica(config, start_app, options)
    try:
        frame, cold = await replica.http(worker_scope(PREDICT, []), b"")
        _, _, status, _, content = _reply(frame)
        assert (status, cold) == (200, True), content
        assert httpx.Response(200, content=content).json()["answer"] == "from the share"
        assert replica._storage_options == {}  # gone before the module's code was imported
        again, cold = await replica.http(worker_scope(PREDICT, []), b"")
        assert cold is False
        assert _reply(again)[4] == content
    finally:
        await replica._stack.aclose()


async def test_ray_serve_serves_a_version_from_a_share_that_needs_credentials(
    dav: StorageServer, tmp_path: Path
) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    before = children()
    target = location("webdav", dav)
    settings = settings_on(target, tmp_path / "data", serving_backend="ray")
    catalog = build_catalog_service(settings)
    publish(catalog, "answer", ANSWER, "1.0.0", {"answer.txt": b"from the share, on Ray"})
    pool = RayServePool(settings, catalog, start=start_app)
    transport = httpx.ASGITransport(app=gateway_app(pool, catalog, settings))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answered = await client.post("/v2/models/answer/predict", timeout=120)
    finally:
        await pool.close()
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"] == "from the share, on Ray"
    assert not ray.is_initialized()
    await eventually(lambda: children() - before == set(), within=30)
