"""The executor interface: admit, start, cancel and clean up training jobs."""

from __future__ import annotations

import contextlib
import signal
from abc import ABC, abstractmethod

from modelport.errors import IllegalTransition
from modelport.jobs.domain import Job, JobStatus, Resources, utcnow
from modelport.jobs.fairness import Capacity
from modelport.jobs.store import JobStore
from modelport.jobs.worker import CPU_ENV, MEMORY_ENV
from modelport.sandbox.base import SandboxSpec


class Executor(ABC):
    """Runs jobs somewhere; the scheduler asks it for room and starts jobs on it."""

    name: str
    #: Whether other replicas' executors start jobs on the same resources (a shared Ray
    #: cluster): admission then counts every replica's running jobs against :meth:`capacity`,
    #: under the database's admission lock.
    shares_cluster: bool = False

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Get ready before the first job (e.g. connect to a cluster); called at service start."""

    @abstractmethod
    def limit_for(self, resources: Resources) -> str | None:
        """Why ``resources`` can never be granted (None when they can)."""

    @abstractmethod
    def has_room(self, resources: Resources) -> bool:
        """Whether a job needing ``resources`` could start now."""

    def capacity(self) -> Capacity:
        """What it has in all, for fair shares (an executor that cannot say: nothing, and
        users then take turns by their number of jobs)."""
        return Capacity(cpu=0.0, gpu=0)

    @abstractmethod
    def start(self, job: Job) -> str:
        """Start a job already marked running; return a reference (pid, task id)."""

    @abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Stop a job this executor runs (SIGTERM, SIGKILL after the grace); False if unknown."""

    @abstractmethod
    def abandon(self, job: Job) -> None:
        """Make sure a job from an earlier server run is gone (used at recovery)."""

    @abstractmethod
    def shutdown(self) -> list[str]:
        """Stop every running job (the server stops); return their ids."""

    @abstractmethod
    def running_ids(self) -> list[str]:
        """The jobs this executor runs now (started here and not ended)."""


def record_end(store: JobStore, job_id: str, reason: str) -> None:
    """Record how a job ended when its worker did not record it (crash, kill, cancel)."""
    job = store.get(job_id)
    if job.status is not JobStatus.RUNNING:
        return  # the worker recorded the result itself
    with contextlib.suppress(IllegalTransition):
        if job.cancel_requested:
            store.transition(job_id, JobStatus.CANCELLED, finished_at=utcnow())
        else:
            store.transition(job_id, JobStatus.FAILED, finished_at=utcnow(), error=reason)


def exit_reason(returncode: int) -> str:
    """How a process ended, for messages: ``was killed by SIGKILL (out of memory?)``, ..."""
    if returncode < 0:
        hints = {signal.SIGKILL: " (out of memory?)", signal.SIGXCPU: " (its CPU time limit)"}
        try:
            signum = signal.Signals(-returncode)
            name, hint = signum.name, hints.get(signum, "")
        except ValueError:
            name, hint = f"signal {-returncode}", ""
        return f"was killed by {name}{hint}"
    return f"exited with status {returncode}"


def describe_exit(returncode: int) -> str:
    """A human reason for a training worker's exit status."""
    suffix = "" if returncode < 0 else " without a result"
    return f"the training process {exit_reason(returncode)}{suffix}"


def limits_env(
    resources: Resources, memory_mb: int | None, cpu_hours: float | None, spec: SandboxSpec
) -> dict[str, str]:
    """A training process's caps and directories, as its environment (the worker applies them
    before it imports module code).

    Memory: the job's ``memory_mb`` when it asks (within the executor's), else the executor's;
    none for a GPU job: CUDA maps far more address space than it uses, so RLIMIT_AS would stop
    it from starting (a container's cgroup limit is the tool there). CPU time: ``cpu_hours``
    per CPU the job asked for. Its working directory: the module's own state directory, as its
    serving workers have."""
    env: dict[str, str] = {}
    memory = resources.memory_mb or memory_mb
    if memory and not resources.gpu:
        env[MEMORY_ENV] = str(memory)
    if cpu_hours:  # CPU time adds up over threads: hours per CPU asked for
        env[CPU_ENV] = str(max(1, round(cpu_hours * 3600 * max(resources.cpu, 1))))
    if spec.workdir is not None:
        env["MODELPORT_DATA_DIR"] = env["HOME"] = str(spec.workdir)
    return env
