"""The Ray executor: each training is one Ray task running the local executor's worker code.

A job becomes a task of ``max_retries=0`` (re-runs are the service's ``max_attempts``) that
runs the training in a process of its own, a child of the task (:mod:`~.ray_task`): module code
never runs in the Ray worker, which therefore takes the next job too (``max_calls=0``; Ray's
default for GPU tasks is a new worker per task, ~2 s on a cluster it joins). Unconfined, the
training is a fork of a zygote the Ray worker starts once (:mod:`modelport.jobs.zygote`:
tens of milliseconds); confined by the platform's sandbox, a fresh ``python -m
modelport.jobs.worker`` in it (~0.3 s of a core). Either gets the job's environment and none of
Ray's variables (no auth token, no cluster address). Its resources are Ray's ``num_cpus``,
``num_gpus`` (Ray hands the task its GPUs through ``CUDA_VISIBLE_DEVICES``, which the training
inherits) and ``memory`` — a reservation Ray schedules by; what Ray enforces is its memory
monitor, which kills tasks when a node runs low; a CPU job's training also caps its address
space at what it asked for.

Every Ray call runs on the executor's driver thread (:mod:`~.ray_driver`: a cluster dies with
the thread that started it). The cluster the executor starts itself (no ``address``) listens on
127.0.0.1 only, and its tasks run in workers Ray prestarts with the server's interpreter; the
job's environment (its data rules, the server's ``sys.path`` for the model's import) is a task
argument. On a cluster at ``address``, whose nodes may lack modelport, each task also gets the
server's import path as Ray's ``runtime_env`` (so ``PYTHONPATH`` finds modelport where the
nodes share the server's layout; one runtime_env for every job, so workers are still reused);
``runtime_env=False`` (setting ``ray_job_runtime_env``) leaves it out where the nodes run the
platform's own image.

The task has no database URL: it records progress, metrics, logs, artifacts and its end through
its job channel (:mod:`modelport.jobs.channel`), a TCP connection back to the server with a
one-time key, so Ray's nodes need a route to the server, never to the database.

Cancel: ``ray.cancel`` interrupts the task, which passes it on as the child's SIGTERM (log
flushed, exit 143) and kills the child's group after ``cancel_grace`` (:mod:`~.ray_task`);
``cancel(force=True)`` after the grace kills the Ray worker too, and the child with it.

Admission: a job fits when it fits both the cluster's totals minus what this executor runs, and
``ray.available_resources()``. The second alone lags: just after a start it still counts what
the new task took as free, so two jobs could be started on one free GPU. The first alone ignores
other users of a shared cluster. Together they never over-commit what we run ourselves. The lag
the other way (a job just ended, its resources not yet shown free) is why the scheduler is woken
a second time, once Ray's view shows them (or after 5 s).

A task's end is seen through its object ref's future (completed by Ray, no thread waiting per
job). A server that dies takes its tasks with it: Ray ends a driver's tasks when it exits.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any

from modelport.errors import ExecutorError
from modelport.jobs.channel import ChannelListener, NotebookHook
from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.base import Executor, describe_exit, limits_env, record_end
from modelport.jobs.executors.ray_driver import (
    LOOPBACK,
    DriverStopped,
    RayDriver,
    join_cluster,
    start_local_cluster,
)
from modelport.jobs.executors.ray_task import Launch, run_task, worker_command
from modelport.jobs.fairness import Capacity
from modelport.jobs.store import JobStore
from modelport.sandbox.base import Sandbox, SandboxSpec
from modelport.sandbox.none import NoSandbox

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'modelport[ray]'"
MIB = 1024 * 1024
TASK_PREFIX = "modelport-job-"
_REASON_CHARS = 300
_KILL_WAIT_S = 5.0  # after a forced cancel, for the worker's end to reach us
_RELEASE_WAIT_S = 5.0  # after a job's end, for Ray's view to show what it held as free
_RELEASE_POLL_S = 0.1


@dataclass
class _Running:
    ref: Any  # ray.ObjectRef[int]
    done: Future[Any]  # the ref's future: completed by Ray when the task ends
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
        runtime_env: bool = True,
        channel_port: int = 0,
        num_cpus: float | None = None,
        num_gpus: int | None = None,
        cancel_grace: float,
        on_finish: Callable[[str], None] = lambda job_id: None,
        sandbox: Sandbox | None = None,
        spec_for: Callable[[Job], SandboxSpec] | None = None,
        memory_mb: int | None = None,
        cpu_hours: float | None = None,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
        notebook: NotebookHook | None = None,
    ) -> None:
        _require_ray()
        self.store = store
        self.notebook = notebook
        self.worker_env = dict(worker_env or {})
        self.address = address
        self.shares_cluster = address is not None  # other replicas may join it too
        self.runtime_env = runtime_env  # on a joined cluster: the job's env as a runtime_env
        self.channel_port = channel_port
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.cancel_grace = cancel_grace
        self.on_finish = on_finish
        self.sandbox = sandbox or NoSandbox()
        self.spec_for = spec_for
        self.memory_mb = memory_mb
        self.cpu_hours = cpu_hours
        self.storage_options = storage_options or {}
        self.driver = RayDriver()
        self._remote: Any = None  # the task function, once connected
        self._channels: ChannelListener | None = None
        self._owns_cluster = False
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()  # never taken on the driver thread
        self._connect_lock = threading.Lock()

    def prepare(self) -> None:
        """Start or join the cluster at service start, not on the first submit (~8 s)."""
        self.connect()

    def connect(self) -> None:
        """Start the local cluster or connect to ``address`` (done on demand; idempotent)."""
        with self._connect_lock:
            if self._remote is not None:
                return
            self.driver.start()
            try:
                self.driver.call(self._connect)
            except Exception as exc:
                if self._owns_cluster:  # started, then failed: not left half-usable
                    self._quietly(_ray_shutdown)
                    self._owns_cluster = False
                self.driver.stop()  # what a failed start left dies with the thread
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise ExecutorError(f"cannot start or reach {where}: {exc}") from exc

    def _connect(self) -> None:
        import ray

        if not ray.is_initialized():
            if self.address is None:
                start_local_cluster(_whole(self.num_cpus), self.num_gpus)
                self._owns_cluster = True
            else:
                join_cluster(self.address)
        here = LOOPBACK if self._owns_cluster else _node_address()
        self._channels = ChannelListener(
            self.store, here, self.channel_port, self.storage_options, self.notebook
        )
        self._remote = ray.remote(max_calls=0, max_retries=0)(run_task)

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

    def capacity(self) -> Capacity:
        """The cluster's CPUs and GPUs in all (fair shares are fractions of these)."""
        totals = self._resources(available=False)
        return Capacity(cpu=totals.get("CPU", 0.0), gpu=int(totals.get("GPU", 0.0)))

    def _resources(self, *, available: bool) -> dict[str, float]:
        self.connect()
        return self._read_resources(available=available)

    def _read_resources(self, *, available: bool) -> dict[str, float]:
        import ray

        # Ray leaves these two untyped
        read: Callable[[], dict[str, float]] = (
            ray.available_resources if available else ray.cluster_resources
        )
        try:
            found = self.driver.call(read)
        except Exception as exc:
            raise ExecutorError(f"cannot read the Ray cluster's resources: {exc}") from exc
        return {str(key): float(value) for key, value in found.items()}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, job: Job) -> str:
        """Submit the worker task for a job already marked running."""
        self.connect()
        path = import_path()
        spec = self.spec_for(job) if self.spec_for is not None else SandboxSpec()
        env = {**self.worker_env, "PYTHONPATH": path}
        env.update(limits_env(job.resources, self.memory_mb, self.cpu_hours, spec))
        confined = self.sandbox.confines
        launch = Launch(
            job_id=job.id,
            command=self.sandbox.command(worker_command(job.id), spec),
            env=env,
            grace=self.cancel_grace,
            confined=confined,
            forkable=not confined,
            writable=[str(directory) for directory in spec.writable],
        )
        options: dict[str, Any] = {
            "name": f"{TASK_PREFIX}{job.id}",  # also the worker's process title: ray::<name>
            "num_cpus": job.resources.cpu,
            "num_gpus": job.resources.gpu,
        }
        if not self._owns_cluster and self.runtime_env:  # nodes we may not know: start their
            options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}  # workers with our path
        if job.resources.memory_mb:
            options["memory"] = job.resources.memory_mb * MIB
        assert self._channels is not None  # connected
        channel = self._channels.open(job.id)
        with self._lock:
            try:
                ref, done, task_id = self.driver.call(
                    _submit, self._remote, options, asdict(launch), asdict(channel)
                )
            except Exception as exc:
                raise ExecutorError(f"Ray refused the training task: {exc}") from exc
            self._running[job.id] = _Running(ref, done, job.resources)
        done.add_done_callback(lambda _: self._ended(job.id, done))
        return f"ray:{task_id}"

    def _ended(self, job_id: str, done: Future[Any]) -> None:
        """Called by Ray's thread when the task ends: record it on a thread of its own."""
        threading.Thread(
            target=self._finish, args=(job_id, done), name=f"ray-end-{job_id[:8]}", daemon=True
        ).start()

    def _finish(self, job_id: str, done: Future[Any]) -> None:
        reason = _outcome(done)
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
        if running is not None:
            self._wake_when_released(job_id, running.resources)

    def _wake_when_released(self, job_id: str, resources: Resources) -> None:
        """Call ``on_finish`` again once Ray's view of free resources shows room for what the
        job held: it sees a task's end after its result (the worker's lease goes back later),
        so the scheduler woken at the end may have found no room, and would otherwise look
        again only at its next full look."""
        demand = {key: amount for key, amount in _demand(resources).items() if amount > 0}
        deadline = time.monotonic() + _RELEASE_WAIT_S
        while time.monotonic() < deadline:
            try:
                free = self._read_resources(available=True)  # not connect(): no restart
            except ExecutorError:
                return  # shut down meanwhile
            if all(free.get(key, 0.0) + 1e-9 >= amount for key, amount in demand.items()):
                break
            time.sleep(_RELEASE_POLL_S)
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
            self.driver.call(ray.cancel, running.ref)
        except Exception as exc:
            raise ExecutorError(f"cannot cancel job {job_id} on Ray: {exc}") from exc
        timer = threading.Timer(self.cancel_grace, self._force_cancel, args=(running,))
        timer.daemon = True
        timer.start()
        return True

    def _force_cancel(self, running: _Running) -> None:
        """Kill the task's worker process unless the task ended within the grace period."""
        if not running.done.done():
            self._quietly(_kill, running.ref)

    def abandon(self, job: Job) -> None:
        """Nothing to do: Ray ended the tasks of the earlier server (its driver) when it exited."""

    def shutdown(self) -> list[str]:
        """Interrupt every running task, kill those left after the grace, stop our own cluster
        and the driver thread."""
        with self._lock:
            running = dict(self._running)
            for item in running.values():
                item.stopping = True
        if running:
            import ray

            for item in running.values():
                self._quietly(ray.cancel, item.ref)
            futures = {item.done: item for item in running.values()}
            _, pending = concurrent.futures.wait(futures, timeout=self.cancel_grace)
            for future in pending:
                self._quietly(_kill, futures[future].ref)
            concurrent.futures.wait(pending, timeout=_KILL_WAIT_S)
        if self._channels is not None:
            self._channels.close()
        if self._owns_cluster:
            self._quietly(_ray_shutdown)
        with self._connect_lock:
            self.driver.stop()
            self._owns_cluster = False
            self._remote = self._channels = None
        return list(running)

    def running_ids(self) -> list[str]:
        """Jobs whose tasks have not ended."""
        with self._lock:
            return list(self._running)

    def _quietly(self, call: Callable[..., Any], *args: Any) -> None:
        """Run a Ray call on the driver thread; log (not raise) what fails."""
        try:
            self.driver.call(call, *args)
        except DriverStopped:
            pass  # shut down meanwhile: the cluster took the task with it
        except Exception:
            log.warning("Ray call %s failed", getattr(call, "__name__", call), exc_info=True)


# -- in the server -------------------------------------------------------------------------


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ExecutorError(f"the Ray executor needs Ray: {INSTALL_HINT}") from exc


def _submit(
    remote: Any,
    options: dict[str, Any],
    launch: dict[str, Any],
    channel: dict[str, Any],
) -> tuple[Any, Future[Any], str]:
    """Submit a job's task (on the driver thread): its ref, the ref's future and its task id."""
    ref = remote.options(**options).remote(launch, channel)
    return ref, ref.future(), ref.task_id().hex()


def _ray_shutdown() -> None:
    """Stop the cluster this process started (on the driver thread)."""
    import ray

    ray.shutdown()


def _kill(ref: Any) -> None:
    """Kill a task's worker process (on the driver thread)."""
    import ray

    ray.cancel(ref, force=True)


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


def _outcome(done: Future[Any]) -> str:
    """Why a task ended without its worker recording a result (used only when it did not)."""
    from ray import exceptions

    try:
        returned = done.result()
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
