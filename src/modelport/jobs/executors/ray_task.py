"""The Ray task of a training, as it runs in its Ray worker process.

Kept apart from :mod:`modelport.jobs.executors.ray` (the server's side) so that the worker,
which imports this module to find the task, does not import the server's (database, Ray
driver) code. A worker runs one job and exits (``max_calls=1``); on the cluster the server
starts itself it is a prestarted one, started before the job with the cluster's environment:
the job's environment (its data rules, the server's import path) comes as an argument and is
applied here, before the training's code is imported.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any


def run_task(job_id: str, channel: dict[str, Any], env: Mapping[str, str]) -> int:
    """The Ray task: the worker's ``run_job`` recording through its channel, with Ray's cancel
    delivered as its SIGTERM."""
    _apply_env(env)
    from modelport.jobs.channel import ChannelAddress, ChannelRecorder, connect_channel
    from modelport.jobs.worker import run_job

    _relay_interrupt_as_sigterm()
    sock = connect_channel(ChannelAddress(**channel))
    with sock:
        return run_job(job_id, ChannelRecorder(sock))


def ready() -> None:
    """A task that does nothing, submitted when a CPU job's worker exits: Ray starts a worker
    for it when none is idle, and that worker then waits for the next job (Ray replaces a
    ``max_calls=1`` worker only when asked for one). Only modelport's code runs in it first."""


def _apply_env(env: Mapping[str, str]) -> None:
    """The job's environment, for this process and the ones it starts; ``PYTHONPATH``'s entries
    also go in front of ``sys.path`` (the process started before it was set)."""
    os.environ.update(env)
    entries = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:0] = [entry for entry in dict.fromkeys(entries) if entry not in sys.path]


def _relay_interrupt_as_sigterm() -> None:
    """Turn ``ray.cancel``'s ``interrupt_main()`` into a SIGTERM that wakes a blocked training.

    ``interrupt_main()`` runs Python's SIGINT handler later, between bytecodes; it also writes
    the signal's number to Python's wakeup fd at once. A thread reading that fd sends SIGTERM to
    the main thread, which interrupts a blocking call and runs the worker's SIGTERM handler.
    """
    main = threading.main_thread().ident
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.signal(signal.SIGINT, _ignore)  # interrupt_main() only trips a Python-level handler
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    if previous != -1 or main is None:  # the fd is someone else's: SIGINT itself stops us
        signal.set_wakeup_fd(previous)
        signal.signal(signal.SIGINT, _terminate)
        return

    def relay() -> None:
        while received := os.read(read_fd, 64):
            if signal.SIGINT in received:
                signal.pthread_kill(main, signal.SIGTERM)
                return

    threading.Thread(target=relay, name="cancel-relay", daemon=True).start()


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A SIGINT handler that does nothing: the relay thread acts on it."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    from modelport.jobs.worker import Terminated

    raise Terminated
