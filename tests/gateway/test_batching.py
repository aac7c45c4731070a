"""A batched catalog module: the gateway hands concurrent calls to its worker, which merges them."""

from __future__ import annotations

import asyncio

from modelport.catalog.service import CatalogService
from tests.gateway.conftest import GatewayFactory, publish


async def test_concurrent_calls_of_a_batched_module_are_merged_in_its_worker(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "sizes", "mp_fixtures.batched:Sizes")
    gw = await gateway(predict_concurrency=1)
    first = await gw.client.post("/v2/models/sizes/predict/", json={"n": -1})  # start it
    assert first.status_code == 200, first.text
    assert first.json() == {"n": -1, "batch": 1}

    async def call(n: int) -> dict[str, int]:
        answer = await gw.client.post("/v2/models/sizes/predict/", json={"n": n, "delay": 0.2})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    answers = await asyncio.gather(*(call(n) for n in range(12)))
    assert [a["n"] for a in answers] == list(range(12))  # each its own answer
    assert max(a["batch"] for a in answers) > 1  # queued behind the running batch, then merged
    assert sum(1 / a["batch"] for a in answers) < 12  # fewer calls than requests

    document = (await gw.client.get("/v2/models/sizes/openapi.json")).json()
    arguments = document["components"]["schemas"]["SizesPredictArgs"]["properties"]
    assert arguments["n"]["type"] == "integer"  # a request's argument, not the batch's list
