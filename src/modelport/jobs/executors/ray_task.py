"""The Ray task of a training, as it runs in its Ray worker process.

Kept apart from :mod:`modelport.jobs.executors.ray` (the server's side) so that the worker,
which imports this module to find the task, does not import the server's (database, Ray
driver) code.

The task never imports the training's code: it runs the training in a process of its own, a
child with the job's environment and nothing of Ray's (no ``RAY_*`` variable, so no auth token
or cluster address), in a process group of its own, handed the job channel's socket. Unconfined,
that child is a fork of the Ray worker's zygote (:mod:`modelport.jobs.zygote`, started by the
worker's first training), so it starts with modelport's worker code already imported; confined,
it is the same fresh process the local executor starts (``python -m modelport.jobs.worker``
inside the platform's sandbox: the command comes from the server as a :class:`Launch`).
Module code therefore never runs in a Ray worker, with its connection to the cluster (where it
could submit tasks or read other jobs' objects); confined by the sandbox it sees none of the
node's Ray processes or files either. And the Ray worker takes the next job (the server's tasks
say ``max_calls=0``): a job costs a fork, or the start of one Python process, not a Ray worker's.

Cancel: ``ray.cancel`` reaches the task as ``_thread.interrupt_main()``, a flag its main
thread only checks between bytecodes, while it waits for the child's end. Python
also writes the signal's number to its wakeup fd at once: a thread reading that fd writes the
cancel byte to the child's cancel pipe (its SIGTERM: log flushed, exit 143) and, ``grace``
seconds later, kills the child's group if it is still there. ``ray.cancel(force=True)`` kills
the Ray worker itself; the child, which dies with its parent (SIGKILL), goes with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from modelport.jobs.worker import DEATH_SIGNAL_ENV, PARENT_ENV
from modelport.jobs.zygote import Zygote, ZygoteGone

#: The variables of the Ray worker that the training's process does not get.
_HIDDEN_PREFIXES = ("RAY_", "MODELPORT_")
_STOP = b"\x00"  # written to the wakeup pipe when the task ends: the relay thread exits
#: Words of a :class:`Launch` command that the task replaces with what only it knows.
PYTHON, CHANNEL_FD, CANCEL_FD = "{python}", "{channel_fd}", "{cancel_fd}"


@dataclass(frozen=True)
class Launch:
    """How the task starts a training (sent by the server as a dict)."""

    #: the job's id
    job_id: str
    #: the worker's command (:func:`worker_command`, maybe wrapped by a sandbox)
    command: list[str]
    #: the job's environment: its data rules, import path, caps, directories
    env: dict[str, str]
    #: seconds between a cancel and the kill of the training's process group
    grace: float
    #: whether the command is a sandbox's, which kills what it runs when the task's worker dies
    confined: bool = False
    #: whether the training may be a fork of the worker's zygote (unconfined)
    forkable: bool = False
    #: directories the sandbox binds writable: made on the node first (a sandbox binds only
    #: what exists)
    writable: list[str] = field(default_factory=list)


def worker_command(job_id: str) -> list[str]:
    """The training's worker process, with the words the task fills in."""
    return [
        PYTHON,
        "-m",
        "modelport.jobs.worker",
        job_id,
        "--fd",
        CHANNEL_FD,
        "--cancel-fd",
        CANCEL_FD,
    ]


def run_task(launch: dict[str, Any], channel: dict[str, Any]) -> int:
    """The Ray task: run the job's training process to its end; return its exit status."""
    from modelport.jobs.channel import ChannelAddress, connect_channel

    how = Launch(**launch)
    for path in how.writable:
        os.makedirs(path, exist_ok=True)
    sock = connect_channel(ChannelAddress(**channel))
    cancel_read, cancel_write = os.pipe()
    try:
        try:
            training = _start(how, worker_env(os.environ, how.env), sock.fileno(), cancel_read)
        finally:
            sock.close()
            os.close(cancel_read)
        try:
            with _cancel_relay(lambda: _cancel(training, cancel_write, how.grace)):
                return training.wait()
        finally:
            if not training.ended(0):  # the task was interrupted some other way: no orphan
                _kill_group(training.pid)
                training.wait()
    finally:
        with contextlib.suppress(OSError):
            os.close(cancel_write)


def worker_env(ours: Mapping[str, str], job: Mapping[str, str]) -> dict[str, str]:
    """The training's environment: this worker's, less Ray's and the platform's variables, plus
    the job's (its data rules, import path; Ray's ``CUDA_VISIBLE_DEVICES`` stays)."""
    env = {k: v for k, v in ours.items() if not k.startswith(_HIDDEN_PREFIXES)}
    env.update(job)
    return env


class _Training(Protocol):
    pid: int

    def wait(self) -> int: ...

    def ended(self, timeout: float) -> bool: ...


class _Process:
    """A training started as a fresh process (in a sandbox, or when no zygote could start)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pid = process.pid

    def wait(self) -> int:
        return self.process.wait()

    def ended(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


#: this Ray worker's zygotes, by import path (one: a worker serves one server), each started
#: by the first unconfined training
_zygotes: dict[str, Zygote] = {}


def _start(how: Launch, env: dict[str, str], channel: int, cancel: int) -> _Training:
    """The training's process: a fork of this worker's zygote when it may be (unconfined),
    else a fresh one running ``how.command``."""
    if how.forkable:
        path = env.get("PYTHONPATH", "")
        zygote = _zygotes.get(path)
        if zygote is None:
            base = worker_env(os.environ, {"PYTHONPATH": path})
            zygote = _zygotes[path] = Zygote(sys.executable, base)
        try:
            return zygote.fork(how.job_id, env, channel, cancel)
        except (OSError, ZygoteGone):
            pass  # a fresh process instead
    if not how.confined:  # (in a sandbox's PID namespace its parent is not ours)
        env[PARENT_ENV] = str(os.getpid())
        env[DEATH_SIGNAL_ENV] = str(int(signal.SIGKILL))  # a killed Ray worker: no grace
    words = {PYTHON: sys.executable, CHANNEL_FD: str(channel), CANCEL_FD: str(cancel)}
    process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
        [words.get(word, word) for word in how.command],
        env=env,
        pass_fds=(channel, cancel),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,  # a kill ends the training's whole process tree
    )
    return _Process(process)


def _cancel(training: _Training, cancel_write: int, grace: float) -> None:
    """Ask the training to stop (its SIGTERM); kill its group if it is still there after grace."""
    with contextlib.suppress(OSError):
        os.write(cancel_write, b"c")
    if not training.ended(grace):
        _kill_group(training.pid)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # not a group (yet): the process itself
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    except PermissionError:
        pass


@contextlib.contextmanager
def _cancel_relay(on_cancel: Callable[[], None]) -> Any:
    """Call ``on_cancel`` (on a thread of its own) when Ray interrupts the task; the worker's
    signal handling is as it was afterwards (the Ray worker runs later tasks)."""
    main = threading.main_thread().ident
    if threading.get_ident() != main:  # signals are the main thread's: nothing to relay
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_handler = signal.signal(signal.SIGINT, _ignore)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def relay() -> None:
        while received := os.read(read_fd, 64):
            if _STOP in received:
                return
            if signal.SIGINT in received:
                on_cancel()
                return

    thread = threading.Thread(target=relay, name="cancel-relay", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGINT, previous_handler)
        with contextlib.suppress(OSError):
            os.write(write_fd, _STOP)
        thread.join(timeout=5)
        os.close(read_fd)
        os.close(write_fd)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A SIGINT handler that does nothing: the relay thread acts on it."""
