"""What a model worker is admitted by, beside the pool's count of loaded models: GPUs.

``serving_gpus`` GPUs (indices 0..N-1) may be handed to model workers. A module version that
asks for GPUs (its metadata's ``resources.inference.gpu``) gets that many, each shared by at
most ``serving_gpu_share`` workers (1, the default: never two workers on one GPU); its worker
sees only them (``CUDA_VISIBLE_DEVICES``), and gives them back when its process ends. When
none is free the call answers 503 with Retry-After, naming why. With ``serving_gpus`` set, a
version that asks for none sees no GPU at all. With it 0 (the default), workers are left as
the machine starts them. On Ray Serve (``serving_backend: ray``) the same ask becomes the
replicas' ``num_gpus`` (divided by ``serving_gpu_share``), and Ray hands the GPUs out.
"""

from __future__ import annotations

import threading
from typing import Any

from modelport.errors import Overloaded

#: Seconds a caller is told to wait when no room (a loaded model's, a GPU) is free.
ROOM_RETRY_AFTER = 5


class GpuSlots:
    """``count`` GPUs, each lent to at most ``share`` workers at a time (thread-safe)."""

    def __init__(self, count: int, share: int = 1) -> None:
        self.count = count
        self.share = share
        self._users = [0] * count
        self._lock = threading.Lock()

    def take(self, need: int) -> list[int] | None:
        """``need`` GPUs, the least used first; None when fewer have room."""
        with self._lock:
            free = sorted((u, i) for i, u in enumerate(self._users) if u < self.share)
            if len(free) < need:
                return None
            chosen = sorted(i for _, i in free[:need])
            for i in chosen:
                self._users[i] += 1
            return chosen

    def give_back(self, gpus: list[int]) -> None:
        """Return what :meth:`take` gave."""
        with self._lock:
            for i in gpus:
                self._users[i] = max(0, self._users[i] - 1)

    def in_use(self) -> list[int]:
        """How many workers hold each GPU."""
        with self._lock:
            return list(self._users)


def gpus_asked(metadata: dict[str, Any]) -> int:
    """The GPUs a module version asks to be served with (``resources.inference.gpu``)."""
    resources = metadata.get("resources") or {}
    inference = resources.get("inference") if isinstance(resources, dict) else None
    asked = inference.get("gpu") if isinstance(inference, dict) else None
    return asked if isinstance(asked, int) and asked > 0 else 0


def no_room(module: str, limit: int, why: str) -> Overloaded:
    """A 503 with Retry-After: no room to load ``module`` now."""
    error = Overloaded(module, ROOM_RETRY_AFTER)
    error.message = (
        f"model '{module}' cannot be loaded now: all {limit} loaded models "
        f"(max_loaded_models) are busy and {why}; retry later"
    )
    error.args = (error.message,)
    return error


def no_gpu(module: str, need: int, slots: GpuSlots) -> Overloaded:
    """A 503 with Retry-After: not ``need`` GPUs free for ``module``'s worker now."""
    error = Overloaded(module, ROOM_RETRY_AFTER)
    error.message = (
        f"model '{module}' cannot be loaded now: it needs {need} GPU(s) and the "
        f"{slots.count} GPU(s) for serving (serving_gpus) are held by other models' workers; "
        "retry later"
    )
    error.args = (error.message,)
    return error
