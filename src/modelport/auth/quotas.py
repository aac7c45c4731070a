"""Per-user and per-group quotas on training: concurrent jobs, GPUs in use, GPU-hours.

Configuration only for now; the checks at submit live with the job service.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Quota(BaseModel):
    """Limits for one user or group; None = unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrent_jobs: int | None = Field(None, ge=0, description="queued + running jobs")
    max_gpus: int | None = Field(None, ge=0, description="GPUs held by running + queued jobs")
    max_gpu_hours: float | None = Field(
        None, ge=0, description="GPU-hours used by jobs that ran within the window"
    )


class QuotaConfig(BaseModel):
    """The default quota per user, and overrides per user (subject) and per group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Quota = Field(default_factory=Quota)
    users: dict[str, Quota] = Field(default_factory=dict)
    groups: dict[str, Quota] = Field(default_factory=dict)
    window_days: float = Field(30, gt=0, description="GPU-hours count over this many days")
