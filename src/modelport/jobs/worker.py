"""The process that runs one training: ``python -m modelport.jobs.worker JOB_ID --fd N``.

A notebook job runs JupyterLab instead (:mod:`modelport.jobs.notebook_runner`).

It reads the job, loads the model the way the server did, captures its output into the job log,
calls train with a TrainContext, and records the result — or the failure, with the traceback in
the log. Everything goes through its channel to the platform (``--fd``: one end of a socketpair,
:mod:`modelport.jobs.channel`): it has no database URL, and module code runs in it (a Ray task
runs the same :func:`run_job` over a TCP channel, often in a fork of
:mod:`~modelport.jobs.zygote`). It reports the GPUs it was given (:mod:`~modelport.jobs.devices`)
and copies its model version's files through the channel when it cannot see them (a Ray node).
Before the module's code is imported it caps its memory (``MODELPORT_WORKER_MEMORY_MB``). On
SIGTERM (a cancel) it flushes the log and exits 143; the executor then records the cancellation.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import FrameType

from modelport.contract import discovery
from modelport.contract.base import ServedModel, encode_json
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.errors import IllegalTransition, InvalidInput
from modelport.jobs.capture import OutputCapture
from modelport.jobs.context import DataAccess, TrainContext
from modelport.jobs.devices import GpuSampler, visible_devices
from modelport.jobs.domain import EventKind, Job, JobKind, JobStatus, utcnow
from modelport.jobs.recorder import JobRecorder
from modelport.storage.userdata import owner_area, resolve_references

EXIT_CANCELLED = 143
PARENT_ENV = "MODELPORT_WORKER_PARENT"
#: The signal the worker gets when its parent dies (default SIGTERM: a stopping server's grace).
DEATH_SIGNAL_ENV = "MODELPORT_WORKER_DEATH_SIGNAL"
NICE_ENV = "MODELPORT_WORKER_NICE"
IDLE_ENV = "MODELPORT_WORKER_SCHED_IDLE"
MEMORY_ENV = "MODELPORT_WORKER_MEMORY_MB"
CPU_ENV = "MODELPORT_WORKER_CPU_SECONDS"
#: Seconds of CPU past the soft limit (SIGXCPU: the training fails) before SIGKILL.
CPU_GRACE = 30
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """Raised in the training when the worker receives SIGTERM."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class CpuTimeExceeded(Exception):
    """Raised in the training when it has used the CPU time it may (SIGXCPU)."""


def _on_sigxcpu(signum: int, frame: FrameType | None) -> None:
    raise CpuTimeExceeded(
        f"the training used all the CPU time it may ({os.environ.get(CPU_ENV)} s of CPU; "
        "the platform's training_cpu_hours)"
    )


def die_with_parent() -> None:
    """On Linux, get SIGTERM (or ``DEATH_SIGNAL_ENV``'s signal) when the process that started
    us dies (so no job runs orphaned)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(os.environ.get(DEATH_SIGNAL_ENV, signal.SIGTERM)))
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        raise SystemExit(EXIT_CANCELLED)


def lower_priority() -> None:
    """Training is batch work: let serving have the CPU first (inherited by child processes)."""
    nice = int(os.environ.get(NICE_ENV, "0"))
    if nice:
        os.nice(nice)
    if os.environ.get(IDLE_ENV) == "1" and hasattr(os, "SCHED_IDLE"):
        # SCHED_IDLE runs only when no normal task wants the CPU, and is preempted at once
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def run_job(job_id: str, store: JobRecorder) -> int:
    """Run a job to its end, recording into ``store``; return the process exit status."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    failure: str | None = None
    model: ServedModel | None = None
    job: Job | None = None
    with OutputCapture(store, job_id), contextlib.ExitStack() as fetched:
        try:
            job = store.get(job_id)
            devices = visible_devices(os.environ)  # before module code can change it
            if devices:
                store.add_event(job_id, EventKind.DEVICES, {"devices": devices})
            if job.kind is JobKind.NOTEBOOK:  # JupyterLab until idle, too old or cancelled
                from modelport.jobs.notebook_runner import run_notebook

                with GpuSampler(lambda m: store.report(job_id, metrics=m), devices):
                    stored = run_notebook(job, store, owner_area(job.owner))
            else:
                # a catalog version: its artifacts, as its served model sees them; copied
                # through the channel where this process does not share the server's disk
                artifacts = Path(job.model_dir) if job.model_dir else None
                fetch = getattr(store, "fetch_model", None)
                if artifacts is not None and not artifacts.is_dir() and callable(fetch):
                    artifacts = fetch(Path(fetched.enter_context(tempfile.TemporaryDirectory())))
                if artifacts is not None:  # module code reads it too (legacy modules)
                    os.environ[MODEL_DIR_ENV] = str(artifacts)
                model = discovery.load(job.model_spec, artifacts=artifacts)
                context = TrainContext(
                    store,
                    job_id,
                    job.artifacts_url or "",
                    data_access=DataAccess.for_worker(job),
                    upload=getattr(store, "write_artifact", None),  # its channel's, if any
                )
                args = resolve_references(job.args, owner_area(job.owner))
                with GpuSampler(lambda m: store.report(job_id, metrics=m), devices):
                    result = model.train(args, context)
                stored = json.loads(encode_json(result))
        except Terminated:
            print(
                "training stopped (SIGTERM: cancelled, or the server is stopping)"
                if job is None or job.kind is JobKind.TRAINING
                else "notebook stopped (SIGTERM: stopped, or the server is stopping)",
                file=sys.stderr,
            )
            return EXIT_CANCELLED
        except BaseException as exc:
            traceback.print_exc()
            failure = _failure(model, exc)
    # recorded only once the capture has flushed: whoever sees the end sees the whole log
    if failure is not None:
        _finish(store, job_id, JobStatus.FAILED, error=failure)
        return 1
    _finish(store, job_id, JobStatus.SUCCEEDED, result=stored, progress=1.0)
    return 0


def _failure(model: ServedModel | None, exc: BaseException) -> str:
    """The job's error: ``Type: message``; a DEEPaaS module's, as DEEPaaS words it (the message)."""
    if model is not None and model.kind == "deepaas" and str(exc):
        return str(exc)
    if isinstance(exc, InvalidInput):  # its fields and why, not only their names
        said = "; ".join(f"{field}: {' '.join(why)}" for field, why in exc.errors.items())
        return f"{type(exc).__name__}: {said}"
    return f"{type(exc).__name__}: {exc}"


def _finish(store: JobRecorder, job_id: str, status: JobStatus, **fields: object) -> None:
    with contextlib.suppress(IllegalTransition):  # cancelled meanwhile: that stands
        store.transition(job_id, status, finished_at=utcnow(), **fields)


def limit_cpu() -> None:
    """Cap the CPU time: SIGXCPU (the training fails) at the limit, SIGKILL ``CPU_GRACE`` s
    later (for code that ignores the first; module code cannot raise the hard limit)."""
    seconds = os.environ.get(CPU_ENV)
    if seconds:
        import resource

        signal.signal(signal.SIGXCPU, _on_sigxcpu)
        resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds) + CPU_GRACE))


def limit_memory() -> None:
    """Cap the address space (soft and hard: module code cannot raise it again)."""
    megabytes = os.environ.get(MEMORY_ENV)
    if megabytes:
        import resource

        size = int(megabytes) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def watch_cancel(fd: int) -> None:
    """A cancel arrives as a byte (or the end) on ``fd``: turn it into our SIGTERM.

    The executor cannot signal a sandboxed process directly (only the sandbox around it, which
    would kill it at once); this way the training stops as on a SIGTERM: log flushed, exit 143.
    """

    def wait() -> None:
        with contextlib.suppress(OSError):
            os.read(fd, 1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="cancel-watch", daemon=True).start()


def _options(argv: list[str]) -> dict[str, int]:
    names = {"--fd": "fd", "--cancel-fd": "cancel"}
    return {names[k]: int(v) for k, v in zip(argv[::2], argv[1::2], strict=False) if k in names}


def _recorder(options: dict[str, int]) -> JobRecorder:
    if "fd" not in options:
        raise SystemExit(
            "usage: python -m modelport.jobs.worker JOB_ID --fd CHANNEL [--cancel-fd FD]"
        )
    import socket

    from modelport.jobs.channel import ChannelRecorder

    return ChannelRecorder(socket.socket(fileno=options["fd"]))


def serve_job(job_id: str, options: dict[str, int]) -> int:
    """This process's training (``fd``: its channel; ``cancel``: its cancel pipe), confined by
    the caps of its environment first; its exit status."""
    die_with_parent()
    lower_priority()
    limit_memory()
    limit_cpu()
    if "cancel" in options:
        watch_cancel(options["cancel"])
    return run_job(job_id, _recorder(options))


def main() -> None:
    """Entry point: ``JOB_ID --fd CHANNEL [--cancel-fd FD]``."""
    raise SystemExit(serve_job(sys.argv[1], _options(sys.argv[2:])))


if __name__ == "__main__":
    main()
