"""The module page's rollouts: each rollout of the module's aliases, with what this replica saw
of it over its window and its last audited changes (``modelport.rollouts``); with the rollout
service, its owner's form to start one (``_rollouts.html``, ``static/rollouts.js``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from modelport.auth.config import Principal
    from modelport.rollouts.domain import Rollout, RolloutEvent
    from modelport.rollouts.router import RolloutRouter
    from modelport.rollouts.service import RolloutService
    from modelport.rollouts.window import LiveStats

#: Audited changes shown per rollout.
HISTORY = 10


@dataclass
class RolloutView:
    """One rollout as the page shows it."""

    rollout: Rollout
    live: LiveStats | None
    history: list[RolloutEvent]


class RolloutViews(list[RolloutView]):
    """The rollouts the page shows; ``available``: whether this server has the rollout service
    (then its owner may start one, even while there is none)."""

    def __init__(self, views: Iterable[RolloutView] = (), *, available: bool = False) -> None:
        super().__init__(views)
        self.available = available


def rollout_views(
    service: RolloutService | None,
    router: RolloutRouter | None,
    name: str,
    viewer: Principal,
) -> RolloutViews:
    """The rollouts of module ``name`` (none, and none to start, without the rollout service)."""
    if service is None:
        return RolloutViews()
    return RolloutViews(
        (
            RolloutView(
                rollout,
                router.live(rollout) if router is not None else None,
                service.history(name, rollout.alias, viewer, HISTORY),
            )
            for rollout in service.rollouts(name, viewer)
        ),
        available=True,
    )


def change_summary(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    """An audited change in a few words: what moved, from -> to."""
    if before is None:
        before = {}
    if after is None:
        return "ended"
    moved = [
        f"{key} {before.get(key, '—')} → {after.get(key)}"
        for key in ("primary", "canary", "weight", "shadow", "state")
        if before.get(key) != after.get(key)
    ]
    return "; ".join(moved) or "no change"
