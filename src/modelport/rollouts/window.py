"""The answers of the last seconds of one rollout, per role, in this replica's memory.

Each replica keeps its own window (answers are not shared between replicas): the automatic
rollback of a replica judges the answers it routed itself, and the status the API and the
dashboard show is that replica's. The decision, though, is written to the database (audited),
so every replica follows it. A window starts again whenever the rollout changes (its revision).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from typing import Final

from pydantic import BaseModel, Field

from modelport.rollouts.domain import Role, RollbackPolicy

#: Answers a role keeps at most (older ones are dropped even within the window).
MAX_SAMPLES: Final = 100_000


class RoleStats(BaseModel):
    """One role's answers over the window."""

    version: str
    requests: int = 0
    errors: int = Field(0, description="answers 5xx, or no answer (the worker failed)")
    error_rate: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None


class ShadowStats(RoleStats):
    """The shadow's answers over the window, compared with the primary's."""

    agreed: int = Field(0, description="JSON answers equal to the primary's")
    disagreed: int = Field(0, description="JSON answers different from the primary's")
    skipped: dict[str, int] = Field(
        default_factory=dict,
        description="requests not shadowed since the rollout changed, by reason (busy: too "
        "many shadows in flight; too_large: body over the bound; stream: a streamed answer)",
    )


class LiveStats(BaseModel):
    """What this replica saw of a rollout over its window."""

    revision: int
    window_seconds: float
    primary: RoleStats | None = None
    canary: RoleStats | None = None
    shadow: ShadowStats | None = None


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class _Samples:
    """(when, ok, milliseconds, agreed) per answer, oldest first."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.items: collections.deque[tuple[float, bool, float, bool | None]] = collections.deque(
            maxlen=MAX_SAMPLES
        )

    def prune(self, since: float) -> None:
        while self.items and self.items[0][0] < since:
            self.items.popleft()

    def stats(self) -> tuple[int, int, float | None, float | None]:
        latencies = [ms for _, _, ms, _ in self.items]
        errors = sum(1 for _, ok, _, _ in self.items if not ok)
        return len(latencies), errors, percentile(latencies, 0.5), percentile(latencies, 0.95)


class RolloutWindow:
    """The window of one revision of one rollout."""

    def __init__(self, revision: int, seconds: float) -> None:
        self.revision = revision
        self.seconds = seconds
        self._roles: dict[Role, _Samples] = {}
        self.skipped: collections.Counter[str] = collections.Counter()
        #: a rollback was decided here (the write may still be under way)
        self.rolled_back = False
        self.last_check = -math.inf

    def add(
        self,
        role: Role,
        version: str,
        *,
        now: float,
        ok: bool,
        seconds: float,
        agreed: bool | None = None,
    ) -> None:
        """Record one answer (``agreed``: a shadow's JSON answer equals the primary's)."""
        samples = self._roles.get(role)
        if samples is None or samples.version != version:
            samples = self._roles[role] = _Samples(version)
        samples.items.append((now, ok, seconds * 1000, agreed))
        samples.prune(now - self.seconds)

    def role(self, role: Role, now: float) -> RoleStats | None:
        """A role's stats over the window ending ``now`` (None: it has not answered)."""
        samples = self._roles.get(role)
        if samples is None:
            return None
        samples.prune(now - self.seconds)
        requests, errors, p50, p95 = samples.stats()
        rate = errors / requests if requests else 0.0
        return RoleStats(
            version=samples.version,
            requests=requests,
            errors=errors,
            error_rate=rate,
            p50_ms=p50,
            p95_ms=p95,
        )

    def live(self, now: float) -> LiveStats:
        """Every role's stats over the window ending ``now``."""
        shadow = None
        found = self.role("shadow", now)
        if found is not None or self.skipped:
            items = self._roles["shadow"].items if "shadow" in self._roles else ()
            shadow = ShadowStats(
                **(found.model_dump() if found else {"version": ""}),
                agreed=sum(1 for *_, agreed in items if agreed is True),
                disagreed=sum(1 for *_, agreed in items if agreed is False),
                skipped=dict(self.skipped),
            )
        return LiveStats(
            revision=self.revision,
            window_seconds=self.seconds,
            primary=self.role("primary", now),
            canary=self.role("canary", now),
            shadow=shadow,
        )

    def verdict(self, policy: RollbackPolicy, now: float) -> str | None:
        """Why the canary must be rolled back now under ``policy``, or None."""
        canary = self.role("canary", now)
        if canary is None or canary.requests < policy.min_requests:
            return None
        primary = self.role("primary", now) or RoleStats(version="")
        window = f"over the last {self.seconds:g} s ({canary.requests} canary answers)"
        if canary.error_rate - primary.error_rate > policy.error_rate_margin:
            return (
                f"the canary's error rate {canary.error_rate:.1%} exceeds the primary's "
                f"{primary.error_rate:.1%} by more than {policy.error_rate_margin:.1%} {window}"
            )
        margin = policy.p95_margin_ms
        if (
            margin is not None
            and primary.p95_ms is not None
            and canary.p95_ms is not None
            and canary.p95_ms - primary.p95_ms > margin
        ):
            return (
                f"the canary's p95 {canary.p95_ms:.0f} ms exceeds the primary's "
                f"{primary.p95_ms:.0f} ms by more than {margin:g} ms {window}"
            )
        return None
