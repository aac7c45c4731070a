"""The accelerators a training's process was given, as it reports them into its job's record.

The executor hands a job its GPUs through ``CUDA_VISIBLE_DEVICES`` (the local executor's own
bookkeeping of its slots, or Ray's assignment). The training reports what it got, before the
module's code runs, as a ``devices`` event: each device's index as the executor named it and,
where NVIDIA's management library answers (``nvidia-ml-py``, optional), its name and memory.
A job that asked for no GPU reports none. While it runs, :class:`GpuSampler` reports its GPUs'
utilisation and memory in use as metrics (NVML only).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

#: A job reports at most this many devices; names are cut to NAME_CHARS.
MAX_DEVICES: Final = 64
NAME_CHARS: Final = 200
MiB: Final = 1024 * 1024
#: Seconds between two samples of a training's GPUs.
SAMPLE_S: Final = 10.0


def visible_devices(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """The devices ``CUDA_VISIBLE_DEVICES`` names: ``{"index": ...}``, with ``name`` and
    ``memory_mb`` where NVML can tell."""
    named = [d.strip() for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    devices: list[dict[str, Any]] = [{"index": d} for d in named[:MAX_DEVICES]]
    if devices:
        _describe(devices)
    return devices


def _describe(devices: list[dict[str, Any]]) -> None:
    """Add NVML's name and total memory to each device it knows (nothing when it is absent)."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver here (NVMLError): the indices are all there is
        return
    try:
        for device in devices:
            with contextlib.suppress(Exception):
                handle = _handle(pynvml, device["index"])  # an index, or a UUID (GPU-, MIG-)
                name = pynvml.nvmlDeviceGetName(handle)
                device["name"] = (name.decode() if isinstance(name, bytes) else str(name))[
                    :NAME_CHARS
                ]
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                device["memory_mb"] = int(memory.total // MiB)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def checked(devices: Any) -> list[dict[str, Any]]:
    """A job's report of its devices, as the platform keeps it (the channel's check):
    ValueError when it is not a short list of ``{index, name?, memory_mb?}``."""
    if not isinstance(devices, list) or len(devices) > MAX_DEVICES:
        raise ValueError(f"devices: a list of at most {MAX_DEVICES}")
    kept = []
    for device in devices:
        if not isinstance(device, dict) or not isinstance(device.get("index"), str):
            raise ValueError("devices: each one an object with an index")
        one: dict[str, Any] = {"index": device["index"][:NAME_CHARS]}
        if isinstance(device.get("name"), str):
            one["name"] = device["name"][:NAME_CHARS]
        if isinstance(device.get("memory_mb"), int):
            one["memory_mb"] = device["memory_mb"]
        kept.append(one)
    return kept


class GpuSampler:
    """While a training runs, reports each of its GPUs' utilisation and memory in use as the
    job's metrics (``gpu0_utilization_percent``, ``gpu0_memory_used_mb``: ``gpuN`` is the
    training's ``cuda:N``) every ``interval`` seconds, where NVML answered for them (their
    ``name`` is known); the job page draws them as curves. Nothing without NVML."""

    def __init__(
        self,
        report: Callable[[dict[str, float]], None],
        devices: list[dict[str, Any]],
        interval: float = SAMPLE_S,
    ) -> None:
        self.report = report
        self.indices = [d["index"] for d in devices if "name" in d]
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        if self.indices:
            self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # gone since the devices were described: nothing to sample
            return
        try:
            handles = [_handle(pynvml, index) for index in self.indices]
            while not self._stop.wait(self.interval):
                metrics: dict[str, float] = {}
                for n, handle in enumerate(handles):
                    metrics[f"gpu{n}_utilization_percent"] = float(
                        pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                    )
                    used = pynvml.nvmlDeviceGetMemoryInfo(handle).used
                    metrics[f"gpu{n}_memory_used_mb"] = float(used // MiB)
                self.report(metrics)
        except Exception:  # a report refused, a device gone: sampling stops, not the training
            return
        finally:
            with contextlib.suppress(Exception):
                pynvml.nvmlShutdown()


def _handle(pynvml: Any, index: str) -> Any:
    if index.isdigit():
        return pynvml.nvmlDeviceGetHandleByIndex(int(index))
    return pynvml.nvmlDeviceGetHandleByUUID(index)
