"""Rollouts through the gateway's real HTTP path and real worker processes: canary weights,
sticky assignment, shadow recording, automatic rollback of a faulty canary."""

from __future__ import annotations

import asyncio
import collections

from modelport.rollouts.domain import AUTOMATIC, RollbackPolicy
from modelport.rollouts.service import RolloutSpec
from tests.gateway.conftest import eventually
from tests.rollouts.conftest import Rollouts

PREDICT = "/v2/models/calc/versions/stable/predict/"
VERSION = "x-modelport-model-version"


async def predict(
    rollouts: Rollouts, x: int = 2, **headers: str
) -> tuple[str, int, dict[str, int]]:
    answer = await rollouts.client.post(PREDICT, json={"x": x}, headers=headers)
    return answer.headers[VERSION], answer.status_code, answer.json()


async def test_a_plain_alias_is_served_as_before(rollouts: Rollouts) -> None:
    rollouts.service.catalog.set_alias("calc", "stable", "1.0.0")
    assert await predict(rollouts) == ("1.0.0", 200, {"y": 4})
    assert (
        rollouts.sample(
            "modelport_gateway_version_requests_total",
            model="calc",
            version="1.0.0",
            role="primary",
        )
        == 0
    )


async def test_the_canary_gets_its_weight(rollouts: Rollouts) -> None:
    spec = RolloutSpec(primary="1.0.0", canary="1.1.0", weight=30)
    rollouts.service.start("calc", "stable", spec)
    seen = collections.Counter()
    for _ in range(20):
        answers = await asyncio.gather(*(predict(rollouts) for _ in range(10)))
        for version, status, doc in answers:
            assert (status, doc) == (200, {"y": 4})
            seen[version] += 1
    assert set(seen) == {"1.0.0", "1.1.0"}
    assert 20 <= seen["1.1.0"] <= 100  # 30 % of 200 is 60 (far off only once in ~10^9)
    labels = {"model": "calc", "version": "1.1.0", "role": "canary"}
    assert rollouts.sample("modelport_gateway_version_requests_total", **labels) == seen["1.1.0"]
    status = (await rollouts.client.get("/catalog/modules/calc/rollouts/stable")).json()
    assert status["shares"] == {"1.0.0": 70.0, "1.1.0": 30.0}
    assert status["live"]["canary"]["requests"] == seen["1.1.0"]
    assert status["live"]["primary"]["errors"] == 0

    # blue-green: all at once to the new version, then promoted; the alias follows
    rollouts.service.set_weight("calc", "stable", 100)
    assert {(await predict(rollouts))[0] for _ in range(10)} == {"1.1.0"}
    rollouts.service.promote("calc", "stable")
    assert rollouts.service.catalog.module("calc").aliases["stable"] == "1.1.0"
    assert {(await predict(rollouts))[0] for _ in range(5)} == {"1.1.0"}


async def test_a_sticky_key_keeps_its_version(rollouts: Rollouts) -> None:
    spec = RolloutSpec(primary="1.0.0", canary="1.1.0", weight=50, sticky_header="X-Session-Id")
    rollouts.service.start("calc", "stable", spec)
    chosen = {}
    for session in range(12):
        versions = {
            (await predict(rollouts, **{"X-Session-Id": f"s{session}"}))[0] for _ in range(4)
        }
        assert len(versions) == 1
        chosen[session] = versions.pop()
    assert set(chosen.values()) == {"1.0.0", "1.1.0"}  # 12 sessions at 50/50: both (1 - 2^-11)


async def test_the_shadow_gets_a_copy_that_is_only_recorded(rollouts: Rollouts) -> None:
    spec = RolloutSpec(primary="1.0.0", shadow="1.2.0")
    rollouts.service.start("calc", "stable", spec)
    for x in range(1, 6):
        assert await predict(rollouts, x) == ("1.0.0", 200, {"y": 2 * x})  # never the shadow's
    outcome = {"model": "calc", "version": "1.2.0", "outcome": "disagreed"}
    await eventually(
        lambda: rollouts.sample("modelport_gateway_shadow_comparisons_total", **outcome) == 5, 60
    )
    status = (await rollouts.client.get("/catalog/modules/calc/rollouts/stable")).json()
    shadow = status["live"]["shadow"]
    assert (shadow["version"], shadow["requests"], shadow["errors"]) == ("1.2.0", 5, 0)
    assert (shadow["agreed"], shadow["disagreed"]) == (0, 5)

    # a shadow that agrees
    rollouts.service.set_shadow("calc", "stable", "1.1.0")
    await predict(rollouts, 7)
    agreed = {"model": "calc", "version": "1.1.0", "outcome": "agreed"}
    await eventually(
        lambda: rollouts.sample("modelport_gateway_shadow_comparisons_total", **agreed) == 1, 60
    )


async def test_a_big_body_or_too_many_shadows_are_not_shadowed(rollouts: Rollouts) -> None:
    rollouts.router.shadow_body_limit = 10
    rollouts.service.start("calc", "stable", RolloutSpec(primary="1.0.0", shadow="1.1.0"))
    answer = await rollouts.client.post(PREDICT, json={"x": 123456789})  # > 10 bytes
    assert answer.status_code == 200
    skipped = {"model": "calc", "reason": "too_large"}
    assert rollouts.sample("modelport_gateway_shadow_skipped_total", **skipped) == 1
    rollouts.router.shadow_body_limit = 1024
    rollouts.router.max_shadows = 0
    await predict(rollouts)
    busy = {"model": "calc", "reason": "busy"}
    assert rollouts.sample("modelport_gateway_shadow_skipped_total", **busy) == 1


async def test_a_faulty_canary_is_rolled_back_within_one_window(rollouts: Rollouts) -> None:
    policy = RollbackPolicy(window_seconds=30, min_requests=5, error_rate_margin=0.2)
    spec = RolloutSpec(primary="1.0.0", canary="2.0.0", weight=50, policy=policy)
    started = rollouts.service.start("calc", "stable", spec)
    statuses = collections.Counter()
    calls = 0
    while rollouts.service.rollout("calc", "stable").state == "active":
        calls += 1
        assert calls <= 200, "no rollback"
        version, status, _ = await predict(rollouts)
        statuses[version, status] += 1
    assert statuses["2.0.0", 500] >= 5  # the canary's errors, as its callers saw them
    rolled = rollouts.service.rollout("calc", "stable")
    assert (rolled.weight, rolled.state, rolled.canary) == (0, "rolled back", "2.0.0")
    assert "error rate" in (rolled.reason or "")
    # within one window: the canary's answers that decided it all fall in the first window
    live = rollouts.router.live(started)
    assert live is not None
    assert live.canary is not None
    assert live.canary.requests >= 5
    # everything goes to the primary now
    assert {(await predict(rollouts))[:2] for _ in range(10)} == {("1.0.0", 200)}
    [event, *_] = rollouts.service.history("calc", "stable")
    assert (event.actor, event.action) == (AUTOMATIC, "rollback")
    assert event.before is not None
    assert event.after is not None
    assert (event.before["weight"], event.after["weight"]) == (50, 0)
    rollbacks = {"model": "calc", "alias": "stable"}
    assert rollouts.sample("modelport_gateway_rollbacks_total", **rollbacks) == 1
