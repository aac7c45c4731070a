"""What a rollout is, and how a request is given a version.

A rollout lives on an alias (``stable``) of a module: ``primary`` is where the alias points,
``canary`` takes ``weight`` percent of the predictions sent to the alias (0 to 100: a canary at
10, blue-green as one switch from 0 to 100), ``shadow`` gets a copy of each one whose answer is
only recorded. With ``sticky_header`` a request carrying that header always lands on the same
version for the same value (a stable hash of module, alias and value); without it, or without
the header, the choice is random with the weights. ``policy`` says when the canary is rolled
back automatically (see ``modelport.rollouts.window``).
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Who an automatic rollback is audited as.
AUTOMATIC: Final = "modelport (automatic rollback)"

Role = Literal["primary", "canary", "shadow"]
State = Literal["active", "promoted", "rolled back"]
Action = Literal["start", "weight", "shadow", "promote", "rollback", "end"]


class RollbackPolicy(BaseModel):
    """When the canary is rolled back: over the last ``window_seconds``, with at least
    ``min_requests`` canary answers, its error rate exceeds the primary's by more than
    ``error_rate_margin`` (a fraction), or its p95 latency the primary's by more than
    ``p95_margin_ms`` (when set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="roll back automatically")
    window_seconds: float = Field(60.0, ge=1, le=3600, description="the evaluation window")
    min_requests: int = Field(20, ge=1, le=1_000_000, description="canary answers needed")
    error_rate_margin: float = Field(
        0.05, ge=0, le=1, description="how much higher the canary's error rate may be (0-1)"
    )
    p95_margin_ms: float | None = Field(
        None, ge=0, description="how much slower the canary's p95 may be, ms (none: not checked)"
    )


class Rollout(BaseModel):
    """A rollout as stored: the alias's versions, weights, shadow, policy and state."""

    model_config = ConfigDict(frozen=True)

    module: str
    alias: str
    primary: str
    canary: str | None = None
    weight: float = Field(0.0, description="the canary's share of the predictions, percent")
    shadow: str | None = None
    sticky_header: str | None = None
    policy: RollbackPolicy = RollbackPolicy()
    state: State = "active"
    reason: str | None = Field(None, description="why it was rolled back")
    revision: int = 1
    updated_at: datetime
    updated_by: str | None = None

    @property
    def weights(self) -> dict[str, float]:
        """Each version's share of the predictions, percent."""
        if self.canary is None or self.canary == self.primary:
            return {self.primary: 100.0}
        return {self.primary: 100.0 - self.weight, self.canary: self.weight}

    def routing(self) -> dict[str, Any]:
        """What an audit event records of it (its from and to)."""
        return {
            "primary": self.primary,
            "canary": self.canary,
            "weight": self.weight,
            "shadow": self.shadow,
            "sticky_header": self.sticky_header,
            "state": self.state,
            "policy": self.policy.model_dump(mode="json"),
        }


class RolloutEvent(BaseModel):
    """One audited change of a rollout: who, when, what, from -> to."""

    id: int
    module: str
    alias: str
    at: datetime
    actor: str | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None


_BUCKETS: Final = 10_000


def sticky_bucket(module: str, alias: str, key: str) -> float:
    """Where ``key`` falls in [0, 100): a stable hash, the same on every replica and run."""
    digest = hashlib.sha256(f"{module}\0{alias}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS * (100 / _BUCKETS)


def choose(
    rollout: Rollout, key: str | None = None, rng: random.Random | None = None
) -> tuple[str, Role]:
    """The version (and its role) that answers one request: by ``key``'s bucket when given,
    else at random with the weights."""
    if rollout.canary is None or rollout.weight <= 0 or rollout.canary == rollout.primary:
        return rollout.primary, "primary"
    if rollout.weight >= 100:
        return rollout.canary, "canary"
    if key is not None:
        point = sticky_bucket(rollout.module, rollout.alias, key)
    else:
        point = (rng or random).random() * 100
    return (rollout.canary, "canary") if point < rollout.weight else (rollout.primary, "primary")
