"""Which quota applies to whom, and the checks' verdicts and messages."""

from __future__ import annotations

import pytest

from modelport.auth.quotas import Quota, QuotaConfig, Usage, check_quota, effective_quota
from modelport.errors import Forbidden, QuotaExceeded

CONFIG = QuotaConfig(
    default=Quota(max_concurrent_jobs=2, max_gpus=1, max_gpu_hours=10),
    users={"vip": Quota(max_gpus=8)},
    groups={
        "students": Quota(max_concurrent_jobs=1, max_gpus=0, max_gpu_hours=0),
        "lab": Quota(max_concurrent_jobs=4, max_gpus=2, max_gpu_hours=100),
        "hpc": Quota(max_concurrent_jobs=1, max_gpus=16, max_gpu_hours=None),
    },
)


def test_a_user_override_wins_as_a_whole() -> None:
    assert effective_quota(CONFIG, "vip", ["students"]) == Quota(max_gpus=8)


def test_otherwise_the_most_generous_group_limit_by_limit() -> None:
    assert effective_quota(CONFIG, "ada", ["students"]) == CONFIG.groups["students"]
    assert effective_quota(CONFIG, "ada", ["lab", "hpc", "students", "unknown"]) == Quota(
        max_concurrent_jobs=4, max_gpus=16, max_gpu_hours=None
    )


def test_otherwise_the_default() -> None:
    assert effective_quota(CONFIG, "ada") == CONFIG.default
    assert effective_quota(CONFIG, "ada", ["unknown"]) == CONFIG.default
    assert QuotaConfig().default.unlimited
    assert not CONFIG.default.unlimited


def test_verdicts_and_messages() -> None:
    quota = Quota(max_concurrent_jobs=2, max_gpus=2, max_gpu_hours=10)
    check_quota(quota, Usage(jobs=1, gpus=1, gpu_hours=9.9), gpus=1, window_days=30)
    check_quota(quota, Usage(jobs=1, gpus=2, gpu_hours=50), gpus=0, window_days=30)
    cases: list[tuple[Usage, int, type[Exception], str]] = [
        (Usage(), 3, Forbidden, "the job asks for 3 GPUs; your quota allows at most 2"),
        (Usage(jobs=2), 0, QuotaExceeded, "you have 2 queued or running, the limit is 2"),
        (Usage(gpus=1), 2, QuotaExceeded, "hold 1, this job asks for 2, the limit is 2"),
        (Usage(gpu_hours=10), 1, QuotaExceeded, "used 10.00 in the last 7 days, the limit is 10"),
    ]
    for usage, gpus, error, message in cases:
        with pytest.raises(error) as refused:
            check_quota(quota, usage, gpus, window_days=7)
        assert message in str(refused.value)
    with pytest.raises(Forbidden, match="no training jobs"):
        check_quota(Quota(max_concurrent_jobs=0), Usage(), 0, 30)
    with pytest.raises(Forbidden, match="no GPU-hours"):
        check_quota(Quota(max_gpu_hours=0), Usage(), 1, 30)
