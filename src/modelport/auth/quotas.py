"""Per-user and per-group quotas on training: concurrent jobs, GPUs in use, GPU-hours.

Which quota applies to a user (:func:`effective_quota`):

1. their own entry in ``users`` (by subject), if there is one, as a whole;
2. else, if any of their groups has an entry in ``groups``, the most generous of those entries,
   limit by limit (a user in two groups gets the larger of each limit; unlimited beats any
   number) -- belonging to one more group never takes anything away;
3. else ``default``.

A group entry replaces the default even where it is stricter (a "students" group may get less
than everyone else). Within the chosen quota, ``None`` means unlimited.

The checks themselves (:func:`check_quota`) run in the job service when a job is queued
(submit, enqueue, retry), on usage read from the job store in the same transaction as the
insert (see ``JobStore.create``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from modelport.auth.config import split_identity
from modelport.errors import Forbidden, QuotaExceeded


class Quota(BaseModel):
    """Limits for one user or group; None = unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrent_jobs: int | None = Field(None, ge=0, description="queued + running jobs")
    max_gpus: int | None = Field(None, ge=0, description="GPUs held by running + queued jobs")
    max_gpu_hours: float | None = Field(
        None, ge=0, description="GPU-hours used by jobs that ran within the window"
    )

    @property
    def unlimited(self) -> bool:
        """Whether no limit is set at all."""
        return (
            self.max_concurrent_jobs is None
            and self.max_gpus is None
            and self.max_gpu_hours is None
        )


class QuotaConfig(BaseModel):
    """The default quota per user, and overrides per user (subject) and per group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Quota = Field(default_factory=Quota)
    users: dict[str, Quota] = Field(default_factory=dict)
    groups: dict[str, Quota] = Field(default_factory=dict)
    window_days: float = Field(30, gt=0, description="GPU-hours count over this many days")


Number = TypeVar("Number", int, float)


def _most(values: Sequence[Number | None]) -> Number | None:
    """The largest limit; None (unlimited) beats any number."""
    if any(v is None for v in values):
        return None
    return max(v for v in values if v is not None)


def effective_quota(config: QuotaConfig, owner: str, groups: Iterable[str] = ()) -> Quota:
    """``owner``'s quota: their override (by identity ``issuer|subject``, else by bare subject,
    which applies whatever the issuer), else their most generous group's, else the default."""
    if owner in config.users:
        return config.users[owner]
    _, subject = split_identity(owner)
    if subject in config.users:
        return config.users[subject]
    found = [config.groups[g] for g in dict.fromkeys(groups) if g in config.groups]
    if not found:
        return config.default
    return Quota(
        max_concurrent_jobs=_most([q.max_concurrent_jobs for q in found]),
        max_gpus=_most([q.max_gpus for q in found]),
        max_gpu_hours=_most([q.max_gpu_hours for q in found]),
    )


@dataclass(frozen=True)
class Usage:
    """What one owner holds now and has used within the quota window."""

    jobs: int = 0
    gpus: int = 0
    gpu_hours: float = 0.0


def check_fits(quota: Quota, gpus: int) -> None:
    """Forbidden when a job asking for ``gpus`` GPUs can never fit ``quota``, whatever the usage."""
    if quota.max_concurrent_jobs == 0:
        raise Forbidden("your quota allows no training jobs (max_concurrent_jobs is 0)")
    if quota.max_gpus is not None and gpus > quota.max_gpus:
        raise Forbidden(
            f"the job asks for {gpus} GPUs; your quota allows at most {quota.max_gpus} "
            "(max_gpus) at a time"
        )
    if gpus and quota.max_gpu_hours == 0:
        raise Forbidden("your quota allows no GPU-hours (max_gpu_hours is 0)")


def check_quota(quota: Quota, usage: Usage, gpus: int, window_days: float) -> None:
    """Raise Forbidden (can never fit) or QuotaExceeded (not now) for a job asking ``gpus``."""
    check_fits(quota, gpus)
    if quota.max_concurrent_jobs is not None and usage.jobs >= quota.max_concurrent_jobs:
        raise QuotaExceeded(
            f"quota exceeded: concurrent jobs: you have {usage.jobs} queued or running, "
            f"the limit is {quota.max_concurrent_jobs}"
        )
    if quota.max_gpus is not None and usage.gpus + gpus > quota.max_gpus:
        raise QuotaExceeded(
            f"quota exceeded: GPUs: your queued or running jobs hold {usage.gpus}, this job "
            f"asks for {gpus}, the limit is {quota.max_gpus}"
        )
    # GPU-hours limit GPU jobs only: a CPU job uses none
    if gpus and quota.max_gpu_hours is not None and usage.gpu_hours >= quota.max_gpu_hours:
        raise QuotaExceeded(
            f"quota exceeded: GPU-hours: you used {usage.gpu_hours:.2f} in the last "
            f"{window_days:g} days, the limit is {quota.max_gpu_hours:g}"
        )
