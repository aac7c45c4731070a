"""The local executor: each training in its own spawned process, admitted by CPU/GPU slots.

A crash or out-of-memory kill ends only that job's process. Each process gets its own process
group (so a cancel signals the training's whole process tree), runs at a lower CPU priority
than serving (nice, and SCHED_IDLE on Linux), and dies with the server (Linux PDEATHSIG), so
no training outlives the record that tracks it. GPUs are handed out as indices through
``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from modelport.errors import ExecutorError
from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.base import Executor, describe_exit, record_end
from modelport.jobs.store import JobStore
from modelport.jobs.worker import IDLE_ENV, NICE_ENV, PARENT_ENV

log = logging.getLogger(__name__)


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    resources: Resources
    gpus: list[int] = field(default_factory=list)
    cancelling: bool = False


class LocalExecutor(Executor):
    """Runs jobs as child processes of the server."""

    name = "local"

    def __init__(
        self,
        store: JobStore,
        *,
        store_url: str,
        cpus: float,
        gpus: int,
        cancel_grace: float,
        nice: int = 0,
        idle_priority: bool = False,
        on_finish: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.store = store
        self.store_url = store_url
        self.cpus = cpus
        self.gpus = gpus
        self.cancel_grace = cancel_grace
        self.nice = nice
        self.idle_priority = idle_priority
        self.on_finish = on_finish
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    # -- admission --------------------------------------------------------------------------

    def limit_for(self, resources: Resources) -> str | None:
        """Why the resources exceed this machine's slots, if they do."""
        if resources.cpu > self.cpus:
            return f"asks for {resources.cpu:g} CPUs; the local executor has {self.cpus:g}"
        if resources.gpu > self.gpus:
            return f"asks for {resources.gpu} GPUs; the local executor has {self.gpus}"
        return None

    def _used(self) -> tuple[float, set[int]]:
        cpus = sum(r.resources.cpu for r in self._running.values())
        gpus = {g for r in self._running.values() for g in r.gpus}
        return cpus, gpus

    def has_room(self, resources: Resources) -> bool:
        """Whether free slots cover the resources now."""
        with self._lock:
            cpus, gpus = self._used()
        return cpus + resources.cpu <= self.cpus + 1e-9 and len(gpus) + resources.gpu <= self.gpus

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, job: Job) -> str:
        """Spawn the worker process for a job already marked running."""
        with self._lock:
            _, used = self._used()
            free = [g for g in range(self.gpus) if g not in used][: job.resources.gpu]
            env = dict(os.environ)
            env["MODELPORT_DATABASE_URL"] = self.store_url
            env[PARENT_ENV] = str(os.getpid())
            env[NICE_ENV] = str(self.nice)
            env[IDLE_ENV] = "1" if self.idle_priority else "0"
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, free))
            # as multiprocessing's spawn does: the worker imports what the server could import
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            try:
                process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
                    [sys.executable, "-m", "modelport.jobs.worker", job.id],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    # its own process group (a cancel signals the whole training), but not its
                    # own session: a new session is a new scheduler autogroup, which competes
                    # with the server as an equal and defeats SCHED_IDLE and nice
                    process_group=0,
                )
            except OSError as exc:
                raise ExecutorError(f"cannot start the training process: {exc}") from exc
            self._running[job.id] = _Running(process, job.resources, free)
        threading.Thread(
            target=self._watch, args=(job.id, process), name=f"job-{job.id[:8]}", daemon=True
        ).start()
        return f"pid:{process.pid}"

    def _watch(self, job_id: str, process: subprocess.Popen[bytes]) -> None:
        returncode = process.wait()
        with self._lock:
            self._running.pop(job_id, None)
        try:
            self.finalize(job_id, returncode)
        except Exception:
            log.exception("cannot record the end of job %s", job_id)
        self.on_finish(job_id)

    def finalize(self, job_id: str, returncode: int) -> None:
        """Record how a job ended when its process did not (crash, kill, cancel)."""
        record_end(self.store, job_id, describe_exit(returncode))

    def cancel(self, job_id: str) -> bool:
        """SIGTERM the job's process group; SIGKILL it after the grace period."""
        with self._lock:
            running = self._running.get(job_id)
            if running is None:
                return False
            running.cancelling = True
        pid = running.process.pid
        _signal_group(pid, signal.SIGTERM)

        def kill_if_alive() -> None:
            if running.process.poll() is None:
                _signal_group(pid, signal.SIGKILL)

        timer = threading.Timer(self.cancel_grace, kill_if_alive)
        timer.daemon = True
        timer.start()
        return True

    def abandon(self, job: Job) -> None:
        """Kill a process left from an earlier server run, if it still exists."""
        ref = job.executor_ref or ""
        if ref.startswith("pid:"):
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                _signal_group(int(ref[4:]), signal.SIGKILL)

    def shutdown(self) -> list[str]:
        """Terminate every running job (SIGTERM, then SIGKILL) and wait for them."""
        with self._lock:
            running = dict(self._running)
        for item in running.values():
            _signal_group(item.process.pid, signal.SIGTERM)
        for item in running.values():
            try:
                item.process.wait(timeout=self.cancel_grace)
            except subprocess.TimeoutExpired:
                _signal_group(item.process.pid, signal.SIGKILL)
                item.process.wait()
        return list(running)

    def running_ids(self) -> list[str]:
        """Jobs whose processes are alive."""
        with self._lock:
            return list(self._running)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
