"""What a training function gets: progress, metrics, logs, artifacts and data by URL."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO, Any

import fsspec

from modelport.jobs.domain import EventKind
from modelport.jobs.recorder import JobRecorder


class TrainContext:
    """Passed as the first argument of a typed model's ``train(ctx, ...)``.

    ``report`` records progress (0..1, a message) and metrics (a time series per name);
    ``save_artifact``/``checkpoint`` write into the job's artifact location (any fsspec URL);
    ``open`` reads training data by URL (a path, ``file://``, ``s3://``, ``webdav://``...).
    Anything printed goes to the job's log.
    """

    def __init__(self, store: JobRecorder, job_id: str, artifacts_url: str) -> None:
        self.store = store
        self.job_id = job_id
        self.artifacts_url = artifacts_url.rstrip("/")
        self._last_progress_at = 0.0
        self._step = 0

    def report(
        self,
        progress: float | None = None,
        message: str | None = None,
        step: int | None = None,
        **metrics: float,
    ) -> None:
        """Record progress (0..1) and/or metric values, e.g. ``report(0.5, loss=0.3)``."""
        if progress is not None:
            progress = min(1.0, max(0.0, float(progress)))
        if step is None:
            self._step += 1
            step = self._step
        else:
            self._step = step
        values = {name: float(value) for name, value in metrics.items()}
        self.store.report(
            self.job_id, progress=progress, message=message, metrics=values, step=step
        )

    def log(self, message: str) -> None:
        """Write a line to the job's log."""
        print(message, file=sys.stdout, flush=True)

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was requested (for cooperative stopping between epochs)."""
        return self.store.get(self.job_id).cancel_requested

    def artifact_url(self, name: str) -> str:
        """The URL an artifact called ``name`` is written to."""
        return f"{self.artifacts_url}/{name.lstrip('/')}"

    def save_artifact(self, name: str, data: bytes | str | Path | Any) -> str:
        """Write ``data`` (bytes, text, a local file, or JSON-able data) as artifact ``name``."""
        url = self.artifact_url(name)
        fs, path = fsspec.core.url_to_fs(url)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if isinstance(data, Path):
            fs.put_file(str(data), path)
        else:
            if isinstance(data, str):
                payload = data.encode()
            elif isinstance(data, bytes | bytearray):
                payload = bytes(data)
            else:
                payload = json.dumps(data, default=str).encode()
            with fs.open(path, "wb") as handle:
                handle.write(payload)
        size = fs.size(path)
        self.store.add_event(self.job_id, EventKind.ARTIFACT, {"name": name, "size": size})
        return url

    def checkpoint(self, name: str, data: bytes | str | Path | Any) -> str:
        """Save a checkpoint (an artifact under ``checkpoints/``)."""
        return self.save_artifact(f"checkpoints/{name}", data)

    def open(self, url: str, mode: str = "rb", **options: Any) -> IO[Any]:
        """Open training data by path or URL (fsspec: file, s3, webdav, http, ...)."""
        opened = fsspec.open(url, mode, **options).open()
        if "b" not in mode and not isinstance(opened, io.TextIOBase):
            return io.TextIOWrapper(opened)
        return opened  # type: ignore[no-any-return]
