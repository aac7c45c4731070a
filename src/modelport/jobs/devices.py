"""The accelerators a training's process was given, as it reports them into its job's record.

The executor hands a job its GPUs through ``CUDA_VISIBLE_DEVICES`` (the local executor's own
bookkeeping of its slots, or Ray's assignment). The training reports what it got, before the
module's code runs, as a ``devices`` event: each device's index as the executor named it and,
where NVIDIA's management library answers (``nvidia-ml-py``, optional), its name and memory.
A job that asked for no GPU reports none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final

#: A job reports at most this many devices; names are cut to NAME_CHARS.
MAX_DEVICES: Final = 64
NAME_CHARS: Final = 200
MiB: Final = 1024 * 1024


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
                index = device["index"]
                if index.isdigit():
                    handle = pynvml.nvmlDeviceGetHandleByIndex(int(index))
                else:  # a UUID (GPU-..., MIG-...)
                    handle = pynvml.nvmlDeviceGetHandleByUUID(index)
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
