"""The model pool with real worker processes: sharing starts, unloading, crashes, close."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelport.catalog.service import CatalogService
from modelport.contract.base import RawArgs
from modelport.errors import (
    InvalidInput,
    ModelError,
    NotImplementedByModel,
    PayloadTooLarge,
)
from modelport.gateway.pool import INLINE_BODY_LIMIT, ModelPool
from modelport.settings import Settings
from tests.gateway.conftest import GatewayFactory, children, eventually, publish

ECHO = "mp_fixtures.typed:Echo"


def alive(pid: int) -> bool:
    """Whether a process exists (a zombie counts: it has not been reaped)."""
    return Path(f"/proc/{pid}").exists()


@pytest.mark.slow
async def test_concurrent_first_calls_share_one_start(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "echo", ECHO)
    gw = await gateway()
    answers = await asyncio.gather(
        *(gw.client.post(f"/v2/models/echo/predict/?text={i}") for i in range(4))
    )
    assert [a.status_code for a in answers] == [200] * 4
    assert all("x-modelport-cold-start" in a.headers for a in answers)
    [loaded] = gw.pool.loaded()
    assert (loaded.module, loaded.version, loaded.in_flight) == ("echo", "1.0.0", 0)
    assert gw.sample("modelport_gateway_cold_start_seconds_count", model="echo") == 1
    assert children() >= {loaded.pid}


@pytest.mark.slow
async def test_idle_workers_are_unloaded(gateway: GatewayFactory, catalog: CatalogService) -> None:
    publish(catalog, "echo", ECHO)
    gw = await gateway(model_idle_timeout=0.5)
    assert (await gw.client.post("/v2/models/echo/predict/?text=a")).status_code == 200
    [loaded] = gw.pool.loaded()
    await eventually(lambda: gw.pool.loaded() == [])
    await eventually(
        lambda: gw.sample("modelport_gateway_unloads_total", model="echo", reason="idle") == 1
    )
    assert not alive(loaded.pid)
    assert gw.sample("modelport_gateway_models_loaded") == 0
    again = await gw.client.post("/v2/models/echo/predict/?text=a")
    assert "x-modelport-cold-start" in again.headers


@pytest.mark.slow
async def test_a_busy_worker_is_not_unloaded_when_idle_time_passes(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "slow", "mp_fixtures.typed:Slow")
    gw = await gateway(model_idle_timeout=0.3)
    answer = await gw.client.post("/v2/models/slow/predict/?seconds=1.2")
    assert answer.status_code == 200
    assert answer.json() == {"slept": 1.2}


@pytest.mark.slow
async def test_the_least_recently_used_worker_makes_room(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    for name in ("a", "b", "c"):
        publish(catalog, name, ECHO)
    gw = await gateway(max_loaded_models=2)
    for name in ("a", "b", "a", "c"):
        answer = await gw.client.post(f"/v2/models/{name}/predict/?text={name}")
        assert answer.status_code == 200
        assert answer.json()["text"] == name
    assert [w.module for w in gw.pool.loaded()] == ["a", "c"]
    assert gw.sample("modelport_gateway_unloads_total", model="b", reason="lru") == 1
    assert gw.sample("modelport_gateway_unloads_total", model="a", reason="lru") == 0
    assert gw.sample("modelport_gateway_models_loaded") == 2


class ProcessCount:
    """The most worker processes alive at once, sampled in the background."""

    def __init__(self) -> None:
        self.before = children()
        self.most = 0
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.most = max(self.most, len(children() - self.before))
            await asyncio.sleep(0.01)

    def stop(self) -> int:
        self._task.cancel()
        return self.most


@pytest.mark.slow
async def test_concurrent_cold_starts_never_go_over_max_loaded_models(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    # Every loaded worker is busy while more modules start: they wait for room (first come,
    # first served) instead of loading one more than the bound, as the pool once did.
    names = ("a", "b", "c", "d", "e")
    for name in names:
        publish(catalog, name, "mp_fixtures.typed:Slow")
    gw = await gateway(max_loaded_models=2, model_room_wait=120)
    count = ProcessCount()
    answers = await asyncio.gather(
        *(gw.client.post(f"/v2/models/{n}/predict/?seconds=0.5", timeout=120) for n in names)
    )
    assert [a.status_code for a in answers] == [200] * len(names), [a.text for a in answers]
    assert count.stop() <= 2
    assert len(gw.pool.loaded()) == 2
    assert gw.sample("modelport_gateway_models_loaded") == 2
    unloaded = sum(
        gw.sample("modelport_gateway_unloads_total", model=n, reason="lru") for n in names
    )
    assert unloaded == 3


@pytest.mark.slow
async def test_a_cold_start_waits_for_a_busy_worker_then_takes_its_place(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "slow", "mp_fixtures.typed:Slow")
    publish(catalog, "echo", ECHO)
    gw = await gateway(max_loaded_models=1)
    busy = asyncio.create_task(gw.client.post("/v2/models/slow/predict/?seconds=2", timeout=60))
    await eventually(lambda: [w.in_flight for w in gw.pool.loaded()] == [1], within=60)
    count = ProcessCount()
    waited = await gw.client.post("/v2/models/echo/predict/?text=a", timeout=60)
    assert waited.status_code == 200
    assert (await busy).json() == {"slept": 2.0}  # the busy worker finished its request
    assert count.stop() <= 1
    assert [w.module for w in gw.pool.loaded()] == ["echo"]


@pytest.mark.slow
async def test_no_room_in_time_is_503_with_retry_after(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "slow", "mp_fixtures.typed:Slow")
    publish(catalog, "echo", ECHO)
    gw = await gateway(max_loaded_models=1, model_room_wait=0.3)
    busy = asyncio.create_task(gw.client.post("/v2/models/slow/predict/?seconds=4", timeout=60))
    await eventually(lambda: [w.in_flight for w in gw.pool.loaded()] == [1], within=60)
    refused = await gw.client.post("/v2/models/echo/predict/?text=a")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    message = refused.json()["message"]
    assert "model 'echo'" in message
    assert "max_loaded_models" in message
    assert [w.module for w in gw.pool.loaded()] == ["slow"]  # never over the bound
    assert (await busy).status_code == 200
    later = await gw.client.post("/v2/models/echo/predict/?text=a", timeout=60)
    assert later.status_code == 200  # the room came once the busy worker was idle


@pytest.mark.slow
async def test_a_full_room_queue_is_503_at_once(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "slow", "mp_fixtures.typed:Slow")
    publish(catalog, "echo", ECHO)
    gw = await gateway(max_loaded_models=1, model_room_queue=0, model_room_wait=60)
    busy = asyncio.create_task(gw.client.post("/v2/models/slow/predict/?seconds=3", timeout=60))
    await eventually(lambda: [w.in_flight for w in gw.pool.loaded()] == [1], within=60)
    started = time.monotonic()
    refused = await gw.client.post("/v2/models/echo/predict/?text=a")
    assert refused.status_code == 503
    assert "already wait" in refused.json()["message"]
    assert time.monotonic() - started < 2.5  # did not wait for the busy worker
    assert (await busy).status_code == 200


@pytest.mark.slow
async def test_a_reply_over_the_frame_limit_fails_that_worker(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "echo", ECHO)
    gw = await gateway(max_worker_frame=256 * 1024)
    assert (await gw.client.post("/v2/models/echo/predict/?text=a")).status_code == 200
    [first] = gw.pool.loaded()
    huge = await gw.client.post(
        "/v2/models/echo/predict/", json={"text": "x" * 100_000, "times": 5}
    )
    assert huge.status_code == 500
    message = huge.json()["message"]
    assert "model 'echo' 1.0.0" in message
    assert "over the limit of 262144 bytes (max_worker_frame)" in message
    await eventually(lambda: not alive(first.pid))  # stopped, and reaped
    again = await gw.client.post("/v2/models/echo/predict/?text=b")
    assert again.status_code == 200
    assert "x-modelport-cold-start" in again.headers  # a fresh worker


@pytest.mark.slow
async def test_a_worker_whose_predictions_never_end_is_replaced(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "hostile", "mp_fixtures.hostile:Hostile")
    gw = await gateway(predict_timeout=1, predict_concurrency=2)
    spin = {"probe": "spin", "size": 600}
    first = await gw.client.post("/v2/models/hostile/predict/", json=spin)
    assert first.status_code == 504
    [stuck] = gw.pool.loaded()
    # a second in a row: both its prediction threads may be stuck, so it is replaced
    assert (await gw.client.post("/v2/models/hostile/predict/", json=spin)).status_code == 504
    assert gw.pool.loaded() == []
    again = await gw.client.post("/v2/models/hostile/predict/", json={"probe": "env"})
    assert again.status_code == 200, again.text
    assert "x-modelport-cold-start" in again.headers  # a fresh worker
    assert gw.sample("modelport_gateway_unloads_total", model="hostile", reason="stuck") == 1
    await eventually(lambda: not alive(stuck.pid), within=30)  # stopped, killed if need be


@pytest.mark.slow
async def test_the_worker_answers_whatever_host_the_gateway_took(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    # the worker's app has the no-auth guard too; the Host it gets is the caller's, which the
    # gateway (its own guard, or authentication) has already accepted
    publish(catalog, "echo", ECHO)
    gw = await gateway()
    proxied = await gw.client.post(
        "/v2/models/echo/predict/?text=a", headers={"host": "models.example.org"}
    )
    assert proxied.status_code == 200, proxied.text


@pytest.mark.slow
async def test_a_worker_killed_while_idle_is_replaced(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "echo", ECHO)
    gw = await gateway()
    assert (await gw.client.post("/v2/models/echo/predict/?text=a")).status_code == 200
    [first] = gw.pool.loaded()
    os.kill(first.pid, signal.SIGKILL)
    await eventually(lambda: gw.pool.loaded() == [])
    await eventually(
        lambda: gw.sample("modelport_gateway_unloads_total", model="echo", reason="crash") == 1
    )
    assert not alive(first.pid)  # reaped, no zombie
    again = await gw.client.post("/v2/models/echo/predict/?text=a")
    assert again.status_code == 200
    assert "x-modelport-cold-start" in again.headers
    [second] = gw.pool.loaded()
    assert second.pid != first.pid


@pytest.mark.slow
async def test_a_worker_killed_mid_request_fails_that_request_only(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "slow", "mp_fixtures.typed:Slow")
    gw = await gateway()
    assert (await gw.client.post("/v2/models/slow/predict/")).status_code == 200
    [worker] = gw.pool.loaded()
    pending = asyncio.create_task(gw.client.post("/v2/models/slow/predict/?seconds=10"))
    await eventually(lambda: gw.pool.loaded()[0].in_flight == 1)
    os.kill(worker.pid, signal.SIGKILL)
    failed = await asyncio.wait_for(pending, 10)
    assert failed.status_code == 500
    message = failed.json()["message"]
    assert "model 'slow' 1.0.0" in message
    assert "killed by SIGKILL" in message
    after = await gw.client.post("/v2/models/slow/predict/")
    assert after.status_code == 200
    assert after.json() == {"slept": 0.0}


@pytest.mark.slow
async def test_training_arguments_are_validated_by_the_module(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "trainer", "mp_fixtures.typed:Trainer", "3.0.0")
    publish(catalog, "echo", ECHO)
    gw = await gateway()
    record, args = await gw.pool.prepare_train(
        "trainer", "latest", RawArgs(json={"epochs": 2}, multi={"sleep": ["0.5"]})
    )
    assert record.version == "3.0.0"
    expected = {"epochs": 2, "sleep": 0.5, "fail": False, "spin": False, "crash": False}
    assert (args.args, args.shown) == (expected, None)  # a typed model: stored = shown
    with pytest.raises(InvalidInput) as invalid:
        await gw.pool.prepare_train("trainer", "3.0.0", RawArgs(json={"epochs": 0}))
    assert list(invalid.value.errors) == ["epochs"]
    with pytest.raises(NotImplementedByModel, match="Not implemented by underlying model"):
        await gw.pool.prepare_train("echo", "latest", RawArgs())
    # the module's own document describes its training (the dashboard builds its form from it)
    trainer_doc = (await gw.client.get("/v2/models/trainer/openapi.json")).json()
    train = trainer_doc["paths"]["/v2/models/trainer/train/"]["post"]
    assert "epochs" in json.dumps(train)
    echo_doc = (await gw.client.get("/v2/models/echo/openapi.json")).json()
    assert "501" in echo_doc["paths"]["/v2/models/echo/train/"]["post"]["responses"]


@pytest.mark.slow
async def test_close_stops_every_worker_and_leaves_no_process(
    catalog: CatalogService, tmp_path: Path
) -> None:
    publish(catalog, "a", ECHO)
    publish(catalog, "b", "mp_fixtures.typed:Slow")
    before = children()
    pool = ModelPool(Settings(data_dir=tmp_path / "data"), catalog)

    async def empty() -> AsyncIterator[bytes]:
        yield b""

    scope = {"method": "POST", "path": "/v2/models/a/predict/", "query_string": b"text=x"}
    await pool.call("a", "latest", scope, empty())
    busy = asyncio.create_task(
        pool.call(
            "b",
            "latest",
            {**scope, "path": "/v2/models/b/predict/", "query_string": b"seconds=20"},
            empty(),
        )
    )
    await eventually(lambda: len(pool.loaded()) == 2 and pool.loaded()[1].in_flight == 1)
    pids = {w.pid for w in pool.loaded()}
    assert children() - before == pids
    await pool.close()
    assert children() - before == set()
    assert pool.loaded() == []
    with pytest.raises(ModelError, match=r"killed by SIGKILL|exited|closed"):
        await busy


async def test_large_bodies_are_spooled_to_a_private_file(
    catalog: CatalogService, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    pool = ModelPool(Settings(max_upload_size=4 * INLINE_BODY_LIMIT), catalog, spool_dir=spool)

    async def chunks(count: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"\x02" * size

    small = await pool._read_body([], chunks(2))
    assert (small.inline, small.path) == (b"\x02" * 128 * 1024, None)
    large = await pool._read_body([], chunks(20))
    assert large.inline is None
    assert large.path is not None
    spooled = Path(large.path)
    assert spooled.parent == spool
    assert spooled.stat().st_size == 20 * 64 * 1024
    assert spooled.stat().st_mode & 0o777 == 0o600
    large.discard()
    assert list(spool.iterdir()) == []
    with pytest.raises(PayloadTooLarge):
        await pool._read_body([], chunks(80))
    assert list(spool.iterdir()) == []  # refused midway: the partial spool is gone too
    with pytest.raises(PayloadTooLarge):
        await pool._read_body([(b"content-length", b"999999999")], chunks(1))
    await pool.close()
