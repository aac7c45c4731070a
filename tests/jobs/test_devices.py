"""What a training reports of the devices it was given, and what the platform keeps of it."""

from __future__ import annotations

import pytest

from modelport.jobs.devices import MAX_DEVICES, checked, visible_devices


def test_the_devices_are_those_cuda_visible_devices_names() -> None:
    assert visible_devices({}) == []
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    found = visible_devices({"CUDA_VISIBLE_DEVICES": "2, 0"})
    assert [d["index"] for d in found] == ["2", "0"]  # named as the executor named them
    uuid = "GPU-8f6e2b1c-0000-0000-0000-000000000000"
    assert [d["index"] for d in visible_devices({"CUDA_VISIBLE_DEVICES": uuid})] == [uuid]


def test_a_report_is_kept_only_as_a_short_list_of_devices() -> None:
    kept = checked([{"index": "0", "name": "x" * 500, "memory_mb": 81559, "serial": "secret"}])
    assert kept == [{"index": "0", "name": "x" * 200, "memory_mb": 81559}]
    for bad in ("0", [{"name": "no index"}], [{"index": 0}], [{"index": "0"}] * (MAX_DEVICES + 1)):
        with pytest.raises(ValueError, match="devices"):
            checked(bad)
