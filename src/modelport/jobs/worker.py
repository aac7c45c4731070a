"""The process that runs one training: ``python -m modelport.jobs.worker JOB_ID``.

It reads the job from the store (``MODELPORT_DATABASE_URL``), loads the model the way the server
did, captures its output into the job log, calls train with a TrainContext, and records the
result — or the failure, with the traceback in the log. On SIGTERM (a cancel) it flushes the log
and exits 143; the executor then records the cancellation. Shared by the local and Ray executors.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import traceback
from types import FrameType

from modelport.contract import discovery
from modelport.contract.base import ServedModel, encode_json
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.db.engine import make_engine
from modelport.errors import IllegalTransition
from modelport.jobs.capture import OutputCapture
from modelport.jobs.context import TrainContext
from modelport.jobs.domain import JobStatus, utcnow
from modelport.jobs.store import JobStore

EXIT_CANCELLED = 143
PARENT_ENV = "MODELPORT_WORKER_PARENT"
NICE_ENV = "MODELPORT_WORKER_NICE"
IDLE_ENV = "MODELPORT_WORKER_SCHED_IDLE"
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """Raised in the training when the worker receives SIGTERM."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def die_with_parent() -> None:
    """On Linux, get SIGTERM when the server that started us dies (so no job runs orphaned)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
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


def run_job(job_id: str, store_url: str) -> int:
    """Run a job to its end; return the process exit status."""
    store = JobStore(make_engine(store_url))
    signal.signal(signal.SIGTERM, _on_sigterm)
    failure: str | None = None
    model: ServedModel | None = None
    with OutputCapture(store, job_id):
        try:
            job = store.get(job_id)
            if job.model_dir:  # a catalog version: its artifacts, as its served model sees them
                os.environ[MODEL_DIR_ENV] = job.model_dir
            model = discovery.load(job.model_spec)
            context = TrainContext(store, job_id, job.artifacts_url or "")
            result = model.train(job.args, context)
            stored = json.loads(encode_json(result))
        except Terminated:
            print(
                "training stopped (SIGTERM: cancelled, or the server is stopping)", file=sys.stderr
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
    return f"{type(exc).__name__}: {exc}"


def _finish(store: JobStore, job_id: str, status: JobStatus, **fields: object) -> None:
    with contextlib.suppress(IllegalTransition):  # cancelled meanwhile: that stands
        store.transition(job_id, status, finished_at=utcnow(), **fields)


def main() -> None:
    """Entry point of the worker process."""
    die_with_parent()
    lower_priority()
    job_id = sys.argv[1]
    store_url = os.environ["MODELPORT_DATABASE_URL"]
    raise SystemExit(run_job(job_id, store_url))


if __name__ == "__main__":
    main()
