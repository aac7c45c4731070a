"""A process that has imported the training worker's code and forks one training per request.

Python's start and modelport's imports cost ~0.6 s of a core per training process, more on a
busy node. A Ray worker running unconfined trainings one after another starts one zygote, once,
and each training is a fork of it: it starts with the worker's code already imported
(:func:`modelport.jobs.worker.serve_job` then runs as in ``python -m modelport.jobs.worker``).
A confined training cannot be a fork (its sandbox is made per job): it is a fresh process.

What a training inherits from the zygote is modelport's code, nothing of other jobs: the zygote
never runs module code, holds no job's data, and is single-threaded (so forking it is safe). Its
environment is the trainings' base (the Ray worker's, less Ray's and the platform's variables),
so ``/proc/self/environ`` of a training shows nothing more; the job's own variables are set in
the fork. The zygote dies with the process that started it, and its trainings with it (SIGKILL).

Protocol, over a ``SOCK_SEQPACKET`` socketpair (a message per send): the parent sends a request
(JSON: ``job_id``, ``env``) with the training's channel and cancel descriptors (SCM_RIGHTS);
the zygote answers ``{"pid": N}`` once it forked, then ``{"status": code}`` when the training
ended (its exit status; ``-signal`` when a signal ended it, as :mod:`subprocess` says). One
training at a time.

    python -m modelport.jobs.zygote --fd CONTROL
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import Any, NoReturn

import modelport.jobs.channel  # noqa: F401 - the forks' channel, imported once here
from modelport.jobs.worker import DEATH_SIGNAL_ENV, PARENT_ENV, die_with_parent, serve_job

_MESSAGE = 1 << 20  # a request: a job id and an environment


class ZygoteGone(RuntimeError):
    """The zygote ended (killed, or its start failed)."""


class Zygote:
    """The parent's handle on a zygote: started on first use, again after it died."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self.python = python
        self.env = dict(env)
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    def fork(self, job_id: str, env: Mapping[str, str], channel: int, cancel: int) -> Forked:
        """Start a training of ``job_id`` with ``env``, its channel and cancel descriptors."""
        with self._lock:
            control = self._running()
            request = json.dumps({"job_id": job_id, "env": dict(env)}).encode()
            try:
                socket.send_fds(control, [request], [channel, cancel])
                pid = int(_receive(control)["pid"])
            except (OSError, ValueError, KeyError, ZygoteGone) as exc:
                self.close()
                raise ZygoteGone(f"the training zygote ended: {exc}") from exc
            return Forked(self, pid)

    def status(self) -> int:
        """The exit status of the training it runs (``-SIGKILL`` when it died under it)."""
        try:
            if self._control is None:
                raise ZygoteGone("closed")
            return int(_receive(self._control)["status"])
        except (OSError, ValueError, KeyError, ZygoteGone):
            self.close()  # its trainings died with it
            return -int(signal.SIGKILL)

    def close(self) -> None:
        """End the zygote (its trainings die with it)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
            self._process = None

    def _running(self) -> socket.socket:
        if self._process is not None and self._process.poll() is not None:
            self.close()  # died since: start another
        if self._control is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            env = {**self.env, PARENT_ENV: str(os.getpid())}
            env[DEATH_SIGNAL_ENV] = str(int(signal.SIGKILL))
            try:
                self._process = subprocess.Popen(  # noqa: S603 - our own code, no shell
                    [self.python, "-m", "modelport.jobs.zygote", "--fd", str(theirs.fileno())],
                    env=env,
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                ours.close()
                raise
            finally:
                theirs.close()
            self._control = ours
        return self._control


class Forked:
    """A training forked by a zygote: its pid, and its end (read by one thread, :meth:`wait`)."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self._ended = threading.Event()

    def wait(self) -> int:
        """Its exit status (``-SIGKILL`` when the zygote died under it)."""
        status = self.zygote.status()
        self._ended.set()
        return status

    def ended(self, timeout: float) -> bool:
        """Whether it ended within ``timeout`` seconds (while another thread waits)."""
        return self._ended.wait(timeout)


def _receive(control: socket.socket) -> dict[str, Any]:
    data = control.recv(_MESSAGE)
    if not data:
        raise ZygoteGone("its end of the socket closed")
    found: dict[str, Any] = json.loads(data)
    return found


# -- in the zygote ---------------------------------------------------------------------------


def main() -> None:
    """Entry point: ``--fd CONTROL``. Serve requests until the parent's end closes."""
    die_with_parent()
    control = socket.socket(fileno=int(sys.argv[sys.argv.index("--fd") + 1]))
    while True:
        try:
            data, fds, _flags, _address = socket.recv_fds(control, _MESSAGE, 2)
        except OSError:
            return
        if not data:
            return
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            _training(json.loads(data), fds[0], fds[1])
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        control.send(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode())


def _training(request: dict[str, Any], channel: int, cancel: int) -> NoReturn:
    """The forked training: its own process group and environment, then the worker's run."""
    code = 1
    try:
        os.setpgid(0, 0)  # a kill ends the training's whole process tree, not the zygote
        zygote = os.getppid()
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[PARENT_ENV] = str(zygote)
        os.environ[DEATH_SIGNAL_ENV] = str(int(signal.SIGKILL))
        entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:0] = [p for p in dict.fromkeys(entries) if p not in sys.path]
        code = serve_job(str(request["job_id"]), {"fd": channel, "cancel": cancel})
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
