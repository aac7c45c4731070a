"""The Ray executor: each training is one Ray task running the same worker code as the local one.

A job becomes a task of ``max_calls=1`` (a fresh worker process per job, so the worker's
descriptor-level output capture dies with it) and ``max_retries=0`` (re-runs are the service's
``max_attempts``). Its resources are Ray's ``num_cpus``, ``num_gpus`` (Ray hands the task its
GPUs through ``CUDA_VISIBLE_DEVICES``) and ``memory`` — a reservation Ray schedules by; what Ray
enforces is its memory monitor, which kills tasks when a node runs low. The task imports the
model through the server's ``sys.path``, passed as ``PYTHONPATH`` (as the local executor does), so
a remote cluster's nodes need the same layout or the model installed.

The task has no database URL: it records progress, metrics, logs, artifacts and its end through
its job channel (:mod:`modelport.jobs.channel`), a TCP connection back to the server with a
one-time key, so Ray's nodes need a route to the server, never to the database.

Cancel: ``ray.cancel`` drops a task still queued; a running one gets ``_thread.interrupt_main()``,
a flag its main thread only checks between bytecodes — a training blocked in ``sleep``, a read or
a C call would not notice. So the task relays that interrupt as a real SIGTERM to its main
thread, and the worker's own SIGTERM path runs (log flushed, exit 143), as under the local
executor; ``cancel(force=True)`` kills the worker process after ``cancel_grace``.

Admission: a job fits when it fits both the cluster's totals minus what this executor runs, and
``ray.available_resources()``. The second alone lags: just after a start it still counts what
the new task took as free, so two jobs could be started on one free GPU. The first alone ignores
other users of a shared cluster. Together they never over-commit what we run ourselves; the lag
the other way (a job just ended) only delays the next start to the scheduler's next look.

A server that dies takes its tasks with it: Ray ends a driver's tasks when the driver exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any

from modelport.errors import ExecutorError
from modelport.jobs.channel import ChannelListener
from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.base import Executor, describe_exit, record_end
from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'modelport[ray]'"
MIB = 1024 * 1024
TASK_PREFIX = "modelport-job-"
_REASON_CHARS = 300


@dataclass
class _Running:
    ref: Any  # ray.ObjectRef[int]
    resources: Resources
    stopping: bool = False  # ended by shutdown(): the service records how the job ends


class RayExecutor(Executor):
    """Runs jobs as tasks on a Ray cluster (a local one, started on demand, or ``address``)."""

    name = "ray"

    def __init__(
        self,
        store: JobStore,
        *,
        worker_env: Mapping[str, str] | None = None,
        address: str | None = None,
        channel_port: int = 0,
        num_cpus: float | None = None,
        num_gpus: int | None = None,
        cancel_grace: float,
        on_finish: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        _require_ray()
        self.store = store
        self.worker_env = dict(worker_env or {})
        self.address = address
        self.channel_port = channel_port
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.cancel_grace = cancel_grace
        self.on_finish = on_finish
        self._remote: Any = None  # the task function, once connected
        self._channels: ChannelListener | None = None
        self._owns_cluster = False
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()

    def prepare(self) -> None:
        """Start or join the cluster at service start, not on the first submit (~8 s)."""
        self.connect()

    def connect(self) -> None:
        """Start the local cluster or connect to ``address`` (done on demand; idempotent)."""
        with self._connect_lock:
            if self._remote is not None:
                return
            import ray

            try:
                if not ray.is_initialized():
                    with _keep_sigterm_handler():
                        if self.address is None:
                            ray.init(
                                address="local",  # a new cluster, whatever RAY_ADDRESS says
                                _node_ip_address="127.0.0.1",
                                include_dashboard=False,
                                num_cpus=_whole(self.num_cpus),
                                num_gpus=self.num_gpus,
                            )
                            self._owns_cluster = True
                        else:
                            ray.init(address=self.address)
                here = "127.0.0.1" if self._owns_cluster else _node_address()
                self._channels = ChannelListener(self.store, here, self.channel_port)
                self._remote = ray.remote(max_calls=1, max_retries=0)(_run_task)
            except Exception as exc:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise ExecutorError(f"cannot start or reach {where}: {exc}") from exc

    # -- admission --------------------------------------------------------------------------

    def limit_for(self, resources: Resources) -> str | None:
        """Why the resources exceed the whole cluster's, if they do."""
        totals = self._resources(available=False)
        cpus, gpus = totals.get("CPU", 0.0), totals.get("GPU", 0.0)
        memory = totals.get("memory", 0.0)
        if resources.cpu > cpus + 1e-9:
            return f"asks for {resources.cpu:g} CPUs; the Ray cluster has {cpus:g}"
        if resources.gpu > gpus + 1e-9:
            return f"asks for {resources.gpu} GPUs; the Ray cluster has {gpus:g}"
        if resources.memory_mb and resources.memory_mb * MIB > memory:
            return (
                f"asks for {resources.memory_mb} MB of memory; "
                f"the Ray cluster has {memory / MIB:.0f} MB"
            )
        return None

    def has_room(self, resources: Resources) -> bool:
        """Whether the job fits now (see the module's docstring for how that is judged)."""
        totals = self._resources(available=False)
        free = self._resources(available=True)
        with self._lock:
            used = [_demand(r.resources) for r in self._running.values()]
        for key, amount in _demand(resources).items():
            if amount <= 0:
                continue
            ours = sum(u[key] for u in used)
            if amount > min(totals.get(key, 0.0) - ours, free.get(key, 0.0)) + 1e-9:
                return False
        return True

    def _resources(self, *, available: bool) -> dict[str, float]:
        self.connect()
        import ray

        # Ray leaves these two untyped
        read: Callable[[], dict[str, float]] = (
            ray.available_resources if available else ray.cluster_resources
        )
        try:
            found = read()
        except Exception as exc:
            raise ExecutorError(f"cannot read the Ray cluster's resources: {exc}") from exc
        return {str(key): float(value) for key, value in found.items()}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, job: Job) -> str:
        """Submit the worker task for a job already marked running."""
        self.connect()
        options: dict[str, Any] = {
            "name": f"{TASK_PREFIX}{job.id}",  # also the worker's process title: ray::<name>
            "num_cpus": job.resources.cpu,
            "num_gpus": job.resources.gpu,
            "runtime_env": {"env_vars": {**self.worker_env, "PYTHONPATH": import_path()}},
        }
        if job.resources.memory_mb:
            options["memory"] = job.resources.memory_mb * MIB
        assert self._channels is not None  # connected
        channel = self._channels.open(job.id)
        with self._lock:
            try:
                ref = self._remote.options(**options).remote(job.id, asdict(channel))
                task_id = ref.task_id().hex()
            except Exception as exc:
                raise ExecutorError(f"Ray refused the training task: {exc}") from exc
            self._running[job.id] = _Running(ref, job.resources)
        threading.Thread(
            target=self._watch, args=(job.id, ref), name=f"ray-job-{job.id[:8]}", daemon=True
        ).start()
        return f"ray:{task_id}"

    def _watch(self, job_id: str, ref: Any) -> None:
        reason = _outcome(ref)
        with self._lock:
            running = self._running.pop(job_id, None)
        if self._channels is not None:  # what it recorded last is in before its end
            self._channels.wait(job_id, timeout=10)
        if running is not None and running.stopping:
            return
        try:
            self.finalize(job_id, reason)
        except Exception:
            log.exception("cannot record the end of job %s", job_id)
        self.on_finish(job_id)

    def finalize(self, job_id: str, reason: str) -> None:
        """Record how a job ended when its worker did not (crash, kill, cancel)."""
        record_end(self.store, job_id, reason)

    def cancel(self, job_id: str) -> bool:
        """Interrupt the task (a SIGTERM in its worker); kill the worker after the grace period."""
        with self._lock:
            running = self._running.get(job_id)
        if running is None:
            return False
        import ray

        try:
            ray.cancel(running.ref)
        except Exception as exc:
            raise ExecutorError(f"cannot cancel job {job_id} on Ray: {exc}") from exc
        timer = threading.Timer(self.cancel_grace, _force_cancel, args=(running.ref,))
        timer.daemon = True
        timer.start()
        return True

    def abandon(self, job: Job) -> None:
        """Nothing to do: Ray ended the tasks of the earlier server (its driver) when it exited."""

    def shutdown(self) -> list[str]:
        """Interrupt every running task, kill those left after the grace, stop our own cluster."""
        with self._lock:
            running = dict(self._running)
            for item in running.values():
                item.stopping = True
        if running:
            import ray

            refs = [item.ref for item in running.values()]
            for ref in refs:
                _quietly(ray.cancel, ref)
            pending = _pending(refs, self.cancel_grace)
            for ref in pending:
                _quietly(ray.cancel, ref, force=True)
            _pending(pending, 5.0)
        if self._channels is not None:
            self._channels.close()
        if self._owns_cluster:
            import ray

            _quietly(ray.shutdown)
        with self._connect_lock:
            self._owns_cluster = False
            self._remote = self._channels = None
        return list(running)

    def running_ids(self) -> list[str]:
        """Jobs whose tasks have not ended."""
        with self._lock:
            return list(self._running)


# -- in the server -------------------------------------------------------------------------


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ExecutorError(f"the Ray executor needs Ray: {INSTALL_HINT}") from exc


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """``ray.init`` makes SIGTERM exit the process at once; the server keeps its own handler."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Ray only touches signals from the main thread
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _node_address() -> str:
    """The address Ray knows this node by: where the job channels listen."""
    import ray.util

    found: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    return found


def _whole(cpus: float | None) -> int | None:
    """A local cluster's CPU count: Ray wants a whole number (at least 1)."""
    return None if cpus is None else max(1, int(cpus))


def import_path() -> str:
    """The server's import path, so the task imports the model the server imported."""
    return os.pathsep.join(os.path.abspath(entry or os.curdir) for entry in sys.path)


def _demand(resources: Resources) -> dict[str, float]:
    return {
        "CPU": resources.cpu,
        "GPU": float(resources.gpu),
        "memory": float((resources.memory_mb or 0) * MIB),
    }


def _outcome(ref: Any) -> str:
    """Why a task ended without its worker recording a result (used only when it did not)."""
    import ray
    from ray import exceptions

    try:
        returned = ray.get(ref)
    except exceptions.TaskCancelledError:
        return "the Ray task was cancelled outside modelport"
    except exceptions.OutOfMemoryError as exc:
        return f"Ray killed the training process: the node ran out of memory ({_brief(exc)})"
    except exceptions.WorkerCrashedError:
        return "the training process died (killed, crashed or out of memory)"
    except exceptions.NodeDiedError as exc:
        return f"the Ray node running the training died ({_brief(exc)})"
    except exceptions.RuntimeEnvSetupError as exc:
        return f"Ray could not set up the training's environment: {_brief(exc)}"
    except exceptions.RayTaskError as exc:
        cause = exc.cause if exc.cause is not None else exc
        return f"the training task failed: {type(cause).__name__}: {_brief(cause)}"
    except Exception as exc:
        return f"lost the Ray task: {type(exc).__name__}: {_brief(exc)}"
    if isinstance(returned, int):
        return describe_exit(returned)
    return f"the Ray task returned {returned!r} without a result"


def _brief(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:_REASON_CHARS]


def _force_cancel(ref: Any) -> None:
    """Kill the task's worker process unless the task ended within the grace period."""
    import ray

    if _pending([ref], 0):
        _quietly(ray.cancel, ref, force=True)


def _pending(refs: list[Any], timeout: float) -> list[Any]:
    """The refs still unfinished after waiting up to ``timeout`` seconds for all of them."""
    if not refs:
        return []
    import ray

    try:
        _, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout, fetch_local=False)
    except Exception:
        log.warning("cannot wait for Ray tasks", exc_info=True)
        return list(refs)
    return list(pending)


def _quietly(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except Exception:
        log.warning("Ray call %s failed", getattr(call, "__name__", call), exc_info=True)


# -- in the Ray worker process -------------------------------------------------------------


def _run_task(job_id: str, channel: dict[str, Any]) -> int:
    """The Ray task: the worker's ``run_job`` recording through its channel, with Ray's cancel
    delivered as its SIGTERM."""
    from modelport.jobs.channel import ChannelAddress, ChannelRecorder, connect_channel
    from modelport.jobs.worker import run_job

    _relay_interrupt_as_sigterm()
    sock = connect_channel(ChannelAddress(**channel))
    with sock:
        return run_job(job_id, ChannelRecorder(sock))


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
