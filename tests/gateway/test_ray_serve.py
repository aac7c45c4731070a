"""Catalog modules on Ray Serve (``serving_backend = "ray"``): a real local Ray cluster.

One cluster for the whole module (starting it takes a while): the pool starts it on its first
deployment and shuts it down when closed, which the last test checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from modelport.api.errors import install_error_handlers
from modelport.api.gateway import gateway_router
from modelport.apps.worker import start_app
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.contract.base import RawArgs
from modelport.contract.files import UploadedFile
from modelport.errors import InvalidInput
from modelport.gateway.base import ModelServer
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.pool import ModelPool
from modelport.gateway.ray_serve import RayServePool, app_name
from modelport.settings import Settings
from tests.gateway.conftest import children, eventually, publish

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")
psutil = pytest.importorskip("psutil")  # a dependency of Ray's

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

TRAINER = "mp_fixtures.typed:Trainer"
ANSWER = "tests.gateway.models:Answer"
SIZES = "mp_fixtures.batched:Sizes"
COUNTER = "mp_fixtures.streaming:Counter"
COLD = "x-modelport-cold-start"
VERSION = "x-modelport-model-version"
IDLE = 3.0


@dataclass
class RayGateway:
    """The gateway app on a RayServePool, its client, and the catalog it serves."""

    pool: RayServePool
    client: httpx.AsyncClient
    catalog: CatalogService
    settings: Settings

    def sample(self, name: str, **labels: str) -> float:
        """A gateway metric's value (0 when absent)."""
        return self.pool.metrics.registry.get_sample_value(name, labels) or 0.0


def gateway_app(pool: ModelServer, catalog: CatalogService, settings: Settings) -> FastAPI:
    """The gateway's routes over ``pool``, as the platform mounts them."""
    app = FastAPI()
    install_error_handlers(app, settings.debug)
    app.include_router(gateway_router(pool, catalog, settings))
    return app


def replicas(application: str) -> dict[str, int] | None:
    """The replica states of an application's deployment (None: no such application)."""
    status = serve.status().applications.get(application)
    if status is None:
        return None
    return dict(status.deployments["model"].replica_states)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ray_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RayGateway]:
    """A gateway on Ray Serve over a catalog of a trainer and two versions of 'answer'."""
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    before = children()
    data_dir: Path = tmp_path_factory.mktemp("ray-serve")
    settings = Settings(data_dir=data_dir, model_idle_timeout=IDLE)
    catalog = build_catalog_service(settings)
    publish(catalog, "trainer", TRAINER, "1.0.0")
    publish(catalog, "answer", ANSWER, "1.0.0", {"answer.txt": b"one"})
    publish(catalog, "answer", ANSWER, "2.0.0", {"answer.txt": b"two"})
    catalog.registry.set_alias("answer", "stable", "1.0.0")
    publish(catalog, "sizes", SIZES, "1.0.0")
    publish(catalog, "counter", COUNTER, "1.0.0")
    pool = RayServePool(settings, catalog, GatewayMetrics(), start=start_app)
    transport = httpx.ASGITransport(app=gateway_app(pool, catalog, settings))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RayGateway(pool, client, catalog, settings)
    finally:
        await pool.close()  # again, if the last test did not
    assert not ray.is_initialized()
    await eventually(lambda: children() - before == set(), within=30)  # raylet, GCS ... gone


async def test_predictions_answer_as_the_process_pool_does_the_first_one_cold(
    ray_gateway: RayGateway,
) -> None:
    gw = ray_gateway
    url = "/v2/models/trainer/predict/?x=2.5"
    first = await gw.client.post(url)
    assert first.status_code == 200, first.text
    assert float(first.headers[COLD]) > 0
    assert first.headers[VERSION] == "1.0.0"
    assert gw.sample("modelport_gateway_cold_start_seconds_count", model="trainer") == 1
    assert gw.sample("modelport_gateway_models_loaded") == 1
    assert [(w.module, w.version) for w in gw.pool.loaded()] == [("trainer", "1.0.0")]
    second = await gw.client.post(url.replace("/predict/", "/predict"))
    assert second.status_code == 200
    assert COLD not in second.headers
    invalid = await gw.client.post("/v2/models/trainer/predict/?x=abc")
    assert invalid.status_code == 422

    processes = ModelPool(gw.settings, gw.catalog, GatewayMetrics())
    try:
        app = gateway_app(processes, gw.catalog, gw.settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
            expected = await local.post(url)
            expected_invalid = await local.post("/v2/models/trainer/predict/?x=abc")
    finally:
        await processes.close()
    assert expected.status_code == 200
    for response in (first, second):
        assert response.content == expected.content
        assert response.headers["content-type"] == expected.headers["content-type"]
    assert invalid.content == expected_invalid.content

    spec = (await gw.client.get("/v2/models/trainer/openapi.json")).json()
    assert "/v2/models/trainer/predict/" in spec["paths"]
    missing = await gw.client.post("/v2/models/nope/predict/")
    assert missing.status_code == 404


async def test_a_replica_batches_and_sends_a_stream_whole(ray_gateway: RayGateway) -> None:
    gw = ray_gateway

    async def call(n: int) -> dict[str, int]:
        answer = await gw.client.post("/v2/models/sizes/predict/", json={"n": n, "delay": 0.2})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    answers = await asyncio.gather(*(call(n) for n in range(32)))
    assert [a["n"] for a in answers] == list(range(32))
    assert max(a["batch"] for a in answers) > 1  # merged in the replica, as in a worker

    stream = await gw.client.post("/v2/models/counter/predict/", json={"n": 3})
    assert stream.status_code == 200
    assert stream.headers["content-type"] == "application/x-ndjson"
    assert stream.text == '{"i":0}\n{"i":1}\n{"i":2}\n'  # whole, at once, on Ray Serve


async def test_training_arguments_are_validated_by_a_replica(ray_gateway: RayGateway) -> None:
    pool = ray_gateway.pool
    record, args = await pool.prepare_train(
        "trainer", "latest", RawArgs(json={"epochs": 2}, multi={"sleep": ["0.5"]})
    )
    assert record.version == "1.0.0"
    expected = {"epochs": 2, "sleep": 0.5, "fail": False, "spin": False, "crash": False}
    assert (args.args, args.shown) == (expected, None)  # a typed model: stored = shown
    with pytest.raises(InvalidInput) as invalid:
        await pool.prepare_train("trainer", "1.0.0", RawArgs(json={"epochs": 0}))
    assert list(invalid.value.errors) == ["epochs"]
    upload = UploadedFile("data", "/dev/null", "text/plain", "x.txt")
    with pytest.raises(InvalidInput, match="data"):
        await pool.prepare_train("trainer", "latest", RawArgs(multi={"data": [upload]}))


async def test_a_version_or_an_alias_runs_its_own_version(ray_gateway: RayGateway) -> None:
    gw = ray_gateway
    stable = await gw.client.post("/v2/models/answer/versions/stable/predict/")
    assert stable.status_code == 200, stable.text
    assert stable.json()["answer"] == "one"
    assert stable.json()["model_dir"].endswith("/models/answer/1.0.0")
    assert stable.headers[VERSION] == "1.0.0"
    assert COLD in stable.headers
    pinned = await gw.client.post("/v2/models/answer/versions/1.0.0/predict")
    assert pinned.json() == stable.json()
    assert COLD not in pinned.headers  # the same application as 'stable'
    unknown = await gw.client.post("/v2/models/answer/versions/9.9.9/predict")
    assert unknown.status_code == 404
    assert sorted(w.version for w in gw.pool.loaded() if w.module == "answer") == ["1.0.0"]


async def test_an_idle_model_scales_to_zero_replicas_and_back(ray_gateway: RayGateway) -> None:
    gw = ray_gateway
    application = app_name(("trainer", "1.0.0"))
    states: list[Any] = []

    async def no_replicas() -> bool:
        states.append(await asyncio.to_thread(replicas, application))
        return states[-1] == {}

    deadline = asyncio.get_running_loop().time() + 60
    while not await no_replicas():
        assert asyncio.get_running_loop().time() < deadline, states[-5:]
        await asyncio.sleep(1)

    again = await gw.client.post("/v2/models/trainer/predict/?x=1")
    assert again.status_code == 200, again.text
    assert again.json() == {"y": 1.0}
    assert COLD in again.headers  # a fresh replica loaded the model
    assert await asyncio.to_thread(replicas, application) == {"RUNNING": 1}


async def test_the_cluster_it_started_listens_on_loopback_only(ray_gateway: RayGateway) -> None:
    await asyncio.to_thread(ray_gateway.pool.connect)  # up (in whatever order the tests run)
    ours = {}
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.name() in {"raylet", "gcs_server"}:
                ours[process.pid] = process.name()
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    ]
    assert {"raylet", "gcs_server"} <= {ours[c.pid] for c in listening}
    outside = [f"{ours[c.pid]} on {c.laddr.ip}" for c in listening if not _loopback(c.laddr.ip)]
    assert not outside


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def test_close_deletes_the_applications_and_stops_the_cluster_it_started(
    ray_gateway: RayGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    deleted: list[str] = []
    delete = serve.delete

    def recording_delete(name: str, *args: Any, **kwargs: Any) -> None:
        deleted.append(name)
        delete(name, *args, **kwargs)
        assert replicas(name) is None

    monkeypatch.setattr(serve, "delete", recording_delete)
    applications = set(await asyncio.to_thread(lambda: serve.status().applications))
    assert applications == {"trainer--1.0.0", "answer--1.0.0", "sizes--1.0.0", "counter--1.0.0"}
    await ray_gateway.pool.close()
    assert sorted(deleted) == sorted(applications)
    assert not ray.is_initialized()
    assert ray_gateway.pool.loaded() == []
    assert ray_gateway.sample("modelport_gateway_models_loaded") == 0


async def test_a_failing_module_is_not_retried_within_the_back_off(tmp_path: Path) -> None:
    """No Ray needed: a remembered failure answers at once, naming the cause."""
    from modelport.errors import ModelNotReady

    settings = Settings(data_dir=tmp_path)
    catalog = build_catalog_service(settings)
    record = publish(catalog, "broken", TRAINER)
    pool = RayServePool(settings, catalog, start=start_app)
    pool._failed(record, RuntimeError("replica died: ImportError: no module named x"))

    async def body() -> AsyncIterator[bytes]:
        yield b""

    scope = {"method": "POST", "path": "/v2/models/broken/predict/", "headers": []}
    with pytest.raises(ModelNotReady, match="ImportError"):
        await pool.call("broken", "latest", scope, body())
    assert not pool._connected  # nothing was deployed, no cluster was started
