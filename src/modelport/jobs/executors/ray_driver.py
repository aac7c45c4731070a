"""The thread the Ray executor's driver lives on, and how it starts or joins a cluster.

Why one thread: ``ray.init`` starts a local cluster's processes (GCS, raylet, agents) with
``PR_SET_PDEATHSIG``, and Linux sends that signal when the *thread* that forked them ends, not
the process. The server calls into the executor from pool threads that are retired when idle
(AnyIO's, at start-up); a cluster started there was killed seconds after a quiet spell while
the server still counted its jobs as running. So the executor owns a :class:`RayDriver`, a
thread that lives from ``prepare()`` to ``shutdown()``, and runs every Ray call it makes there
(init, submissions, cancels, resource reads, shutdown), one at a time, in order.

Why the overrides around ``ray.init`` (Ray 2.60):

- ``_node_ip_address="127.0.0.1"`` alone is rewritten to the host's outward address, and then
  the GCS, raylet and agents listen on every interface. Ray keeps 127.0.0.1 only in its
  local-only mode (``ray_constants.ENABLE_RAY_CLUSTER`` off, meant for laptops); with the node
  at 127.0.0.1, its gRPC servers and agents listen on loopback only. A cluster the server
  starts for itself serves no other machine, so it is started that way.
- Under ``uv run``, Ray replaces the job's runtime environment: it uploads the current
  directory as the workers' ``working_dir`` and starts every worker through ``uv run`` (a new
  virtual environment per session, ~2 s more for the first job and a worker per job that
  cannot be prestarted). The server's workers run the server's interpreter with its import
  path instead (:func:`modelport.jobs.executors.ray.import_path`), so that hook is off here.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
# imported by each prestarted Ray worker before it is handed a job: the first task on it
# starts without paying for them (only modelport's code: the training runs in a child)
PRELOAD = ["modelport.jobs.executors.ray_task", "modelport.jobs.worker", "modelport.jobs.channel"]

_Call = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DriverStopped(RuntimeError):
    """A Ray call came after the driver thread was stopped (the executor shut down)."""


class RayDriver:
    """One long-lived thread that runs the calls handed to it, in order (see the module)."""

    def __init__(self, name: str = "ray-driver") -> None:
        self.name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the driver thread and return what it returns (or
        raise what it raises); run at once when already on it."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        future: Future[T] = Future()
        with self._lock:
            if self._thread is None:
                raise DriverStopped("the Ray driver is stopped")
            self._calls.put((future, fn, args, kwargs))
        return future.result()

    def stop(self) -> None:
        """End the thread once the calls handed to it so far have run (idempotent)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._calls.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _loop(self) -> None:
        while (item := self._calls.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller, who re-raises it
                future.set_exception(exc)


def start_local_cluster(num_cpus: int | None, num_gpus: int | None) -> None:
    """Start a one-node cluster listening on 127.0.0.1 only (call on the driver thread)."""
    import ray

    with _ray_constants(ENABLE_RAY_CLUSTER=False, RAY_ENABLE_UV_RUN_RUNTIME_ENV=False):
        ray.init(
            address="local",  # a new cluster, whatever RAY_ADDRESS says
            _node_ip_address=LOOPBACK,
            include_dashboard=False,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            _system_config={"preload_python_modules": PRELOAD},
        )


def join_cluster(address: str) -> None:
    """Connect to the cluster at ``address`` as its driver (call on the driver thread)."""
    import ray

    with _ray_constants(RAY_ENABLE_UV_RUN_RUNTIME_ENV=False):
        ray.init(address=address)


@contextlib.contextmanager
def _ray_constants(**values: bool) -> Iterator[None]:
    """Set some of ``ray._private.ray_constants`` for the time of one ``ray.init`` (read when
    called, see the module's docstring); restored after, so nothing else sees them."""
    from ray._private import ray_constants

    missing = object()
    saved: dict[str, object] = {name: getattr(ray_constants, name, missing) for name in values}
    for name, value in values.items():
        setattr(ray_constants, name, value)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is missing:
                delattr(ray_constants, name)
            else:
                setattr(ray_constants, name, old)
