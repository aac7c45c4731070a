"""Rollouts in the database (SQLite and PostgreSQL): checked, authorized, audited changes that
every replica sees at once."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.auth.config import Principal
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.errors import Conflict, Forbidden, InvalidInput, NotFound
from modelport.rollouts.domain import AUTOMATIC, Rollout, choose, sticky_bucket
from modelport.rollouts.service import RolloutService, RolloutSpec
from modelport.settings import Settings
from tests.catalog.conftest import postgresql_url, sqlite_url, store_url
from tests.catalog.test_registry import meta

__all__ = ["postgresql_url", "sqlite_url", "store_url"]


def caller(subject: str, *roles: str) -> Principal:
    return Principal(subject=subject, issuer="test", roles=frozenset(roles))


ADA = caller("ada", "publisher")


@pytest.fixture
def catalogs(tmp_path: Path, store_url: str) -> Iterator[tuple[CatalogService, CatalogService]]:
    """Two replicas' catalogs on one database; module ``calc`` (ada's) with four versions."""
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    one, two = build_catalog_service(settings), build_catalog_service(settings)
    for version in ("1.0.0", "1.1.0", "1.2.0", "2.0.0"):
        one.registry.publish("calc", version, meta("Calc"), published_by="test|ada")
    yield one, two
    one.engine.dispose()
    two.engine.dispose()


def test_changes_are_audited_and_seen_by_every_replica(
    catalogs: tuple[CatalogService, CatalogService],
) -> None:
    one, two = catalogs
    here, there = RolloutService(one), RolloutService(two)
    generation = one.registry.generation.read()
    spec = RolloutSpec(primary="1.0.0", canary="1.1.0", weight=10, shadow="1.2.0")
    started = here.start("calc", "stable", spec, ADA)
    assert two.registry.generation.read() > generation  # every gateway drops what it kept
    assert two.module("calc").aliases["stable"] == "1.0.0"  # the alias names the primary
    assert there.rollout("calc", "stable") == started
    assert started.weights == {"1.0.0": 90.0, "1.1.0": 10.0}
    there.set_weight("calc", "stable", 100, ADA)  # blue-green: one switch
    assert here.rollout("calc", "stable").weights == {"1.0.0": 0.0, "1.1.0": 100.0}
    promoted = here.promote("calc", "stable", ADA)
    assert (promoted.primary, promoted.canary, promoted.state) == ("1.1.0", None, "promoted")
    assert two.module("calc").aliases["stable"] == "1.1.0"
    here.end("calc", "stable", ADA)
    assert there.rollouts("calc") == []
    assert two.module("calc").aliases["stable"] == "1.1.0"  # a plain alias again
    events = there.history("calc", "stable")
    assert [e.action for e in events] == ["end", "promote", "weight", "start"]
    assert {e.actor for e in events} == {"test|ada"}
    end, promote, weight, start = events
    assert start.before is None
    assert start.after is not None
    assert start.after["weight"] == 10
    assert weight.before is not None
    assert weight.after is not None
    assert (weight.before["weight"], weight.after["weight"]) == (10, 100)
    assert promote.after is not None
    assert promote.after["primary"] == "1.1.0"
    assert end.after is None


def test_automatic_rollback_is_audited_once(
    catalogs: tuple[CatalogService, CatalogService],
) -> None:
    one, two = catalogs
    here, there = RolloutService(one), RolloutService(two)
    started = here.start("calc", "stable", RolloutSpec(primary="1.0.0", canary="2.0.0", weight=10))
    assert there.automatic_rollback("calc", "stable", started.revision, "errors")
    # the other replica decided the same meanwhile: nothing more is written
    assert not here.automatic_rollback("calc", "stable", started.revision, "errors")
    rolled = here.rollout("calc", "stable")
    assert (rolled.weight, rolled.state, rolled.reason) == (0, "rolled back", "errors")
    [event, _] = here.history("calc", "stable")
    assert (event.actor, event.action, event.reason) == (AUTOMATIC, "rollback", "errors")
    # weights set again: active again, and a rollback for the old revision is stale
    here.set_weight("calc", "stable", 5)
    assert not here.automatic_rollback("calc", "stable", rolled.revision, "errors")
    assert here.rollout("calc", "stable").state == "active"


def test_mistakes_name_the_field(catalogs: tuple[CatalogService, CatalogService]) -> None:
    one, _ = catalogs
    service = RolloutService(one)

    def refused(field: str, **spec: object) -> None:
        with pytest.raises(InvalidInput) as raised:
            service.start("calc", "stable", RolloutSpec.model_validate(spec))
        assert field in raised.value.errors, raised.value.errors

    refused("primary", canary="1.1.0", weight=10)  # the alias is not set yet
    refused("primary", primary="9.9.9")
    refused("canary", primary="1.0.0", canary="1.0.0", weight=10)
    refused("canary", primary="1.0.0", canary="not a version", weight=10)
    refused("weight", primary="1.0.0", weight=10)  # no canary
    refused("shadow", primary="1.0.0", shadow="1.0.0")
    refused("sticky_header", primary="1.0.0", sticky_header="no spaces")
    with pytest.raises(InvalidInput) as raised:
        service.start("calc", "latest", RolloutSpec(primary="1.0.0"))
    assert "alias" in raised.value.errors
    one.registry.yank("calc", "2.0.0", "broken")
    with pytest.raises(Conflict, match=r"canary: calc 2\.0\.0 is yanked"):
        service.start("calc", "stable", RolloutSpec(primary="1.0.0", canary="2.0.0"))
    with pytest.raises(NotFound):
        service.set_weight("calc", "stable", 10)
    with pytest.raises(InvalidInput) as raised:
        service.set_weight("calc", "stable", 101)
    assert "weight" in raised.value.errors
    service.start("calc", "stable", RolloutSpec(primary="1.0.0"))
    with pytest.raises(Conflict, match="no canary"):
        service.promote("calc", "stable")
    with pytest.raises(NotFound):
        service.start("nothing", "stable", RolloutSpec(primary="1.0.0"))


def test_only_the_owner_or_an_admin_changes_a_rollout(
    catalogs: tuple[CatalogService, CatalogService],
) -> None:
    one, _ = catalogs
    service = RolloutService(one)
    spec = RolloutSpec(primary="1.0.0", canary="1.1.0", weight=10)
    with pytest.raises(Forbidden, match="belongs to someone else"):
        service.start("calc", "stable", spec, caller("bob", "publisher"))
    service.start("calc", "stable", spec, caller("root", "admin"))
    with pytest.raises(Forbidden):
        service.rollback("calc", "stable", "no", caller("bob", "publisher"))
    assert service.rollout("calc", "stable", caller("bob", "user")).weight == 10  # reads: seeing
    service.rollback("calc", "stable", "checking", ADA)
    assert service.history("calc", "stable")[0].actor == "test|ada"


def rollout(weight: float, sticky: str | None = None) -> Rollout:
    return Rollout.model_validate(
        {
            "module": "calc",
            "alias": "stable",
            "primary": "1.0.0",
            "canary": "1.1.0",
            "weight": weight,
            "sticky_header": sticky,
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )


def test_ten_thousand_choices_land_within_one_and_a_half_percent() -> None:
    picked = [choose(rollout(10), rng=random.Random(seed))[0] for seed in range(10_000)]
    share = picked.count("1.1.0") / len(picked)
    assert abs(share - 0.10) <= 0.015
    assert {choose(rollout(0))[0] for _ in range(100)} == {"1.0.0"}
    assert {choose(rollout(100))[0] for _ in range(100)} == {"1.1.0"}


def test_sticky_keys_split_by_the_weights_and_stay() -> None:
    keys = [f"user-{i}" for i in range(10_000)]
    canary = [k for k in keys if choose(rollout(25, "x-user"), k)[0] == "1.1.0"]
    assert abs(len(canary) / len(keys) - 0.25) <= 0.015
    # raising the weight keeps every key already on the canary there
    assert all(choose(rollout(50, "x-user"), k)[0] == "1.1.0" for k in canary)
    assert sticky_bucket("calc", "stable", "k") == sticky_bucket("calc", "stable", "k")
