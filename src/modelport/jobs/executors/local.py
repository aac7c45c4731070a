"""The local executor: each training in its own spawned process, admitted by CPU/GPU slots.

A crash or out-of-memory kill ends only that job's process. Each process gets its own process
group (so a kill ends the training's whole process tree), runs at a lower CPU priority than
serving (nice, and SCHED_IDLE on Linux), and dies with the server (Linux PDEATHSIG, or the
sandbox's --die-with-parent), so no training outlives the record that tracks it. GPUs are handed
out as indices through ``CUDA_VISIBLE_DEVICES``.

Module code runs in the process, so it gets no database URL and no ``MODELPORT_*`` variable:
it records everything through a private channel (:mod:`modelport.jobs.channel`) that a thread
here applies to the store, and it runs confined by the executor's sandbox (``spec_for`` says
what each job may see: its model's artifacts, its own artifacts and state directories). A
cancel reaches it as a byte on a pipe (it turns it into its own SIGTERM: log flushed, exit
143); SIGKILL of its group follows after the grace period.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import ExecutorError
from modelport.jobs.channel import NotebookHook, serve_channel
from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.base import Executor, describe_exit, limits_env, record_end
from modelport.jobs.fairness import Capacity
from modelport.jobs.store import JobStore
from modelport.jobs.worker import IDLE_ENV, NICE_ENV, PARENT_ENV
from modelport.sandbox.base import Sandbox, SandboxSpec
from modelport.sandbox.none import NoSandbox

log = logging.getLogger(__name__)


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    resources: Resources
    gpus: list[int] = field(default_factory=list)
    cancelling: bool = False
    cancel_pipe: int | None = None  # write end: a byte (or its close) cancels the training
    channel: threading.Thread | None = None

    def request_cancel(self) -> None:
        """Tell the training to stop (as a SIGTERM would)."""
        if self.cancel_pipe is not None:
            with contextlib.suppress(OSError):
                os.write(self.cancel_pipe, b"c")


class LocalExecutor(Executor):
    """Runs jobs as child processes of the server."""

    name = "local"

    def __init__(
        self,
        store: JobStore,
        *,
        cpus: float,
        gpus: int,
        cancel_grace: float,
        nice: int = 0,
        idle_priority: bool = False,
        on_finish: Callable[[str], None] = lambda job_id: None,
        sandbox: Sandbox | None = None,
        spec_for: Callable[[Job], SandboxSpec] | None = None,
        memory_mb: int | None = None,
        worker_env: Mapping[str, str] | None = None,
        cpu_hours: float | None = None,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
        notebook: NotebookHook | None = None,
    ) -> None:
        self.store = store
        self.notebook = notebook
        self.storage_options = storage_options or {}
        self.worker_env = dict(worker_env or {})
        self.cpu_hours = cpu_hours
        self.sandbox = sandbox or NoSandbox()
        self.spec_for = spec_for
        self.memory_mb = memory_mb
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
        if resources.memory_mb and self.memory_mb and resources.memory_mb > self.memory_mb:
            return (
                f"asks for {resources.memory_mb} MB of memory; a training here may have at most "
                f"{self.memory_mb} MB (module_memory_mb)"
            )
        return None

    def capacity(self) -> Capacity:
        """This machine's slots."""
        return Capacity(cpu=self.cpus, gpu=self.gpus)

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
        spec = self.spec_for(job) if self.spec_for is not None else SandboxSpec()
        ours, theirs = socket.socketpair()
        cancel_read, cancel_write = os.pipe()
        with self._lock:
            _, used = self._used()
            free = [g for g in range(self.gpus) if g not in used][: job.resources.gpu]
            argv = [sys.executable, "-m", "modelport.jobs.worker", job.id]
            argv += ["--fd", str(theirs.fileno()), "--cancel-fd", str(cancel_read)]
            try:
                process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
                    self.sandbox.command(argv, spec),
                    env=self._env(free, spec, job.resources),
                    pass_fds=(theirs.fileno(), cancel_read),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    # its own process group (a kill ends the whole training), but not its
                    # own session: a new session is a new scheduler autogroup, which competes
                    # with the server as an equal and defeats SCHED_IDLE and nice
                    process_group=0,
                )
            except OSError as exc:
                ours.close()
                os.close(cancel_write)
                raise ExecutorError(f"cannot start the training process: {exc}") from exc
            finally:
                theirs.close()
                os.close(cancel_read)
            channel = threading.Thread(
                target=serve_channel,
                args=(ours, self.store, job.id, self.storage_options, self.notebook),
                name=f"job-channel-{job.id[:8]}",
                daemon=True,
            )
            channel.start()
            self._running[job.id] = _Running(
                process, job.resources, free, cancel_pipe=cancel_write, channel=channel
            )
        threading.Thread(
            target=self._watch, args=(job.id, process), name=f"job-{job.id[:8]}", daemon=True
        ).start()
        return f"pid:{process.pid}"

    def _env(self, gpus: list[int], spec: SandboxSpec, resources: Resources) -> dict[str, str]:
        """The training's environment: nothing of the platform's (no MODELPORT_* settings,
        database URL or secrets), its own priorities, GPUs, memory cap and directories.

        Its memory and CPU time caps: :func:`~.base.limits_env`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        env.update(self.worker_env)  # the platform's rules for it (its data URLs)
        if not self.sandbox.confines:  # a confined one dies with its sandbox
            env[PARENT_ENV] = str(os.getpid())
        env[NICE_ENV] = str(self.nice)
        env[IDLE_ENV] = "1" if self.idle_priority else "0"
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        env.update(limits_env(resources, self.memory_mb, self.cpu_hours, spec))
        # as multiprocessing's spawn does: the worker imports what the server could import
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        return env

    def _watch(self, job_id: str, process: subprocess.Popen[bytes]) -> None:
        returncode = process.wait()
        with self._lock:
            running = self._running.pop(job_id, None)
        if running is not None:
            if running.channel is not None:  # what it recorded last is in before its end
                running.channel.join(timeout=10)
            if running.cancel_pipe is not None:
                with contextlib.suppress(OSError):
                    os.close(running.cancel_pipe)
        try:
            self.finalize(job_id, returncode)
        except Exception:
            log.exception("cannot record the end of job %s", job_id)
        self.on_finish(job_id)

    def finalize(self, job_id: str, returncode: int) -> None:
        """Record how a job ended when its process did not (crash, kill, cancel)."""
        record_end(self.store, job_id, describe_exit(returncode))

    def cancel(self, job_id: str) -> bool:
        """Ask the training to stop (its SIGTERM); SIGKILL its group after the grace period."""
        with self._lock:
            running = self._running.get(job_id)
            if running is None:
                return False
            running.cancelling = True
        pid = running.process.pid
        running.request_cancel()

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
            item.request_cancel()
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
