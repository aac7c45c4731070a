"""What a training reports of the devices it was given, and what the platform keeps of it."""

from __future__ import annotations

import sys
import time
import types

import pytest

from modelport.jobs.devices import MAX_DEVICES, GpuSampler, MiB, checked, visible_devices


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


class _Nvml(types.ModuleType):
    """NVML's Python API (nvidia-ml-py's ``pynvml``), answering for two GPUs: this machine has
    no GPU and no driver, so the real library cannot run here; this checks the calls modelport
    makes against the library's documented API."""

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.live = 0

    def nvmlInit(self) -> None:
        self.live += 1

    def nvmlShutdown(self) -> None:
        self.live -= 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index > 1:
            raise RuntimeError("NVML_ERROR_INVALID_ARGUMENT")
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> int:
        raise RuntimeError("NVML_ERROR_NOT_FOUND")

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(total=81559 * MiB, used=(1000 + handle) * MiB)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(gpu=40 + handle, memory=10)


def test_nvml_names_the_devices_and_samples_them_while_the_training_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml = _Nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    found = visible_devices({"CUDA_VISIBLE_DEVICES": "1,GPU-unknown"})
    assert found == [
        {"index": "1", "name": "NVIDIA H100 80GB HBM3", "memory_mb": 81559},
        {"index": "GPU-unknown"},  # NVML did not know it: its index only
    ]
    reported: list[dict[str, float]] = []
    with GpuSampler(reported.append, found, interval=0.01):
        deadline = time.monotonic() + 5
        while len(reported) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert reported[0] == {"gpu0_utilization_percent": 41.0, "gpu0_memory_used_mb": 1001.0}
    assert nvml.live == 0  # shut down again, each time


def test_nothing_is_sampled_without_nvml() -> None:
    reported: list[dict[str, float]] = []
    with GpuSampler(reported.append, [{"index": "0"}], interval=0.01) as sampler:
        time.sleep(0.05)
    assert sampler.indices == []
    assert reported == []
