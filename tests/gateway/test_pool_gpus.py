"""GPUs for model workers (``serving_gpus``): each worker of a version that asks for GPUs gets
its own, sees only them, and gives them back when it ends; none free is a 503."""

from __future__ import annotations

import pytest

from modelport.catalog import validate_metadata
from modelport.catalog.service import CatalogService
from modelport.gateway.slots import GpuSlots
from tests.gateway.conftest import META, GatewayFactory, eventually

DEVICES = "mp_fixtures.gpus:VisibleDevices"


def publish_asking(catalog: CatalogService, name: str, gpus: int) -> None:
    data = META.model_dump(mode="json", exclude_none=True, by_alias=True)
    if gpus:
        data["resources"] = {"inference": {"gpu": gpus}}
    catalog.registry.publish(
        name, "1.0.0", validate_metadata(data), load_spec=DEVICES, package="mp_fixtures"
    )


def test_slots_lend_the_least_used_gpus_up_to_their_share() -> None:
    single = GpuSlots(2)
    assert single.take(1) == [0]
    assert single.take(1) == [1]
    assert single.take(1) is None  # never two workers on one GPU
    single.give_back([0])
    assert single.take(2) is None
    assert single.take(1) == [0]
    shared = GpuSlots(2, share=2)
    assert [shared.take(1), shared.take(1), shared.take(2)] == [[0], [1], [0, 1]]
    assert shared.take(1) is None
    assert shared.in_use() == [2, 2]


@pytest.mark.slow
async def test_each_worker_sees_only_its_own_gpus_and_gives_them_back(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish_asking(catalog, "first", 1)
    publish_asking(catalog, "second", 1)
    publish_asking(catalog, "third", 1)
    publish_asking(catalog, "cpu-only", 0)
    gw = await gateway(serving_gpus=2, max_loaded_models=4, model_idle_timeout=15)

    seen = {}
    for name in ("first", "second", "cpu-only"):
        answer = await gw.client.post(f"/v2/models/{name}/predict/", timeout=60)
        assert answer.status_code == 200, answer.text
        seen[name] = answer.json()
    assert sorted([seen["first"], seen["second"]]) == ["0", "1"]
    assert seen["cpu-only"] == ""  # it asked for none: it sees none

    refused = await gw.client.post("/v2/models/third/predict/", timeout=60)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert "serving_gpus" in refused.json()["message"]

    # idle workers are unloaded (model_idle_timeout): their processes end, their GPUs go back
    await eventually(lambda: gw.pool.gpu_slots.in_use() == [0, 0], within=60)
    again = await gw.client.post("/v2/models/third/predict/", timeout=60)
    assert again.status_code == 200
    assert again.json() in ("0", "1")
