"""Capture a worker process's stdout and stderr (file descriptors 1 and 2) into the job log.

Descriptor-level, so output from C extensions and child processes is captured too. Lines are
batched into the store (every ``interval`` seconds or ``batch`` lines) by one thread per stream.
"""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType

from modelport.jobs.recorder import JobRecorder


class OutputCapture:
    """Context manager redirecting fds 1 and 2 into a job's log."""

    def __init__(
        self, store: JobRecorder, job_id: str, interval: float = 0.2, batch: int = 500
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.interval = interval
        self.batch = batch
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    def __enter__(self) -> OutputCapture:
        for fd, stream in ((1, "stdout"), (2, "stderr")):
            read_end, write_end = os.pipe()
            self._saved[fd] = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            thread = threading.Thread(
                target=self._read, args=(read_end, stream), name=f"capture-{stream}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        self._flusher = threading.Thread(target=self._flush_loop, name="capture-flush", daemon=True)
        self._flusher.start()
        return self

    def _read(self, fd: int, stream: str) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._lock:
                    self._pending.append((stream, line))
                    full = len(self._pending) >= self.batch
                if full:
                    self.flush()

    def _flush_loop(self) -> None:
        while not self._closed.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write pending lines to the store."""
        with self._lock:
            lines, self._pending = self._pending, []
        if lines:
            self.store.append_logs(self.job_id, lines)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes the pipe's last write end: the reader sees EOF
            os.close(saved)
        for thread in self._threads:
            thread.join(timeout=5)
        self._closed.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()
