"""Catalog models as Ray Serve deployments: replicas, autoscaling down to zero, same API.

``serving_backend = "ray"`` swaps the gateway's process pool for :class:`RayServePool`. Each
catalog module version becomes one Serve application (``<module>--<version>``) whose replicas
run exactly what a worker process runs — the artifacts fetched, the model loaded and warmed
behind the app ``modelport serve`` builds — and answer the requests the gateway hands them
through a deployment handle (no Serve HTTP proxy: authentication, routing and the DEEPaaS
paths stay in the gateway). Autoscaling: from 0 to ``ray_serve_max_replicas`` replicas, scaled
down after ``model_idle_timeout`` seconds without requests, so an unused model costs nothing.

The cluster is ``ray_address``, or a local one started on first use, listening on 127.0.0.1
only, from a thread of its own that lives until :meth:`RayServePool.close` (Linux ends a
cluster's processes with the thread that started them: :mod:`~modelport.jobs.executors.ray_driver`).

A replica fetches its version's artifacts itself, on its node, from the catalog's store: it is
given the options of ``catalog_artifacts_url`` (its credentials), which Serve keeps with the
application on the cluster. It drops them once the artifacts are fetched, before the module's
code is imported; code running on a Ray cluster can still reach what the cluster holds, so
modules that are not trusted are better served by the process pool, whose workers never see
the store (docs/storage.md, "Current limits").
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterable, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.contract.base import PreparedTraining, RawArgs
from modelport.errors import (
    ExecutorError,
    InvalidInput,
    ModelNotReady,
    ModelportError,
    PayloadTooLarge,
    StartFailed,
)
from modelport.gateway.artifacts import materialize
from modelport.gateway.exposure import response_headers, worker_scope
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.pool import START_BACKOFF
from modelport.gateway.process import GatewayResponse, WorkerInfo, worker_config
from modelport.gateway.protocol import HEADER, decode, encode
from modelport.gateway.records import CatalogRecords
from modelport.gateway.slots import gpus_asked
from modelport.gateway.worker import AppStarter, RequestServer
from modelport.jobs.executors.ray_driver import RayDriver, join_cluster, start_local_cluster
from modelport.storage import ArtifactStore
from modelport.storage.paths import model_version_dir

if TYPE_CHECKING:
    from modelport.catalog.domain import VersionRecord
    from modelport.catalog.service import CatalogService
    from modelport.settings import Settings

log = logging.getLogger(__name__)

Key = tuple[str, str]
INSTALL_HINT = "pip install 'modelport[ray]'"
#: Replicas a model may hold requests for before Serve adds another one.
TARGET_ONGOING_REQUESTS = 4
#: Serve averages request counts over this window (at most); it must exceed Serve's metrics
#: interval (10 s), and a shorter one than Serve's default (30 s) lets a short idle timeout work.
MAX_LOOK_BACK_S = 30.0
MIN_LOOK_BACK_S = 11.0


class _Capture:
    """Stands in for the worker's frame writer: keeps the one reply frame, encoded (an answer
    sent in parts, put together).

    Replies travel as the worker protocol's bytes, so the gateway rebuilds them with the same
    restricted unpickler as a worker's frames (modelport's errors, whatever their __init__
    takes, and plain data only).
    """

    frame: bytes = b""

    def __init__(self) -> None:
        self._started: tuple[Any, ...] | None = None
        self._parts: list[bytes] = []

    async def send(self, frame: tuple[Any, ...]) -> None:
        # an answer in parts (a streaming model's) is sent whole: Serve's handle call returns
        # one reply
        if frame[0] == "start":
            self._started = frame
        elif frame[0] == "chunk":
            self._parts.append(frame[2])
        elif frame[0] == "end" and self._started is not None:
            _, rid, status, headers = self._started
            self.frame = encode(("response", rid, status, headers, b"".join(self._parts)))
        else:
            self.frame = encode(frame)


def _reply(frame: bytes) -> tuple[Any, ...]:
    """A replica's reply frame, decoded as a worker's frames are."""
    return decode(frame[HEADER.size :], trusted=False)


class ModelReplica:
    """One Serve replica of a catalog module version (the worker's app, started lazily by
    ``start``, the worker program's :func:`~modelport.apps.worker.start_app`).

    ``storage_options`` are those of the catalog's store (``config["artifacts_url"]``): the
    replica fetches the version's artifacts with them, then forgets them, before ``start``
    imports the module's code.
    """

    def __init__(
        self,
        config: dict[str, Any],
        start: AppStarter,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self._start = start
        self._storage_options = storage_options or {}
        self._app: Any = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self.warm_seconds: float | None = None

    def _fetch(self) -> Path:
        """The version's artifacts, fetched from the catalog's store into this node's data
        directory (StartFailed naming the version when they cannot be)."""
        config = self.config
        module, version = config["module"], config["version"]
        target = model_version_dir(Path(config["data_dir"]), module, version)
        try:
            # a file system of its own, not fsspec's cached one, that nothing keeps after this
            options = {**self._storage_options, "skip_instance_cache": True}
            store = ArtifactStore(config["artifacts_url"], **options)
            model_dir = materialize(store, config["artifacts"], target)
        except ModelportError as exc:
            label = f"module '{module}' {version}"
            raise StartFailed(f"{label}: its artifacts cannot be fetched: {exc.message}") from exc
        self._storage_options = {}  # kept until a fetch succeeds: a failed one is retried
        return model_dir

    async def _server(self) -> tuple[Any, _Capture, bool]:
        async with self._lock:
            cold = self._app is None
            if cold:
                if not self.config.get("model_dir"):
                    model_dir = await asyncio.to_thread(self._fetch)
                    self.config = {**self.config, "model_dir": str(model_dir)}
                self._app, self.warm_seconds = await self._start(self.config, self._stack)
        capture = _Capture()
        server = RequestServer(self._app, capture, self.config["module"])  # type: ignore[arg-type]
        return server, capture, cold

    async def http(self, scope: dict[str, Any], body: bytes) -> tuple[bytes, bool]:
        """Answer one request: the ``response`` frame, and whether it was this replica's first."""
        server, reply, cold = await self._server()
        await server.http(0, scope, body, False)
        return reply.frame, cold

    async def prepare_train(self, raw: RawArgs) -> bytes:
        """Validate training arguments: the ``prepared`` or ``error`` frame."""
        server, reply, _ = await self._server()
        await server.prepare_train(0, raw)
        return reply.frame


def app_name(key: Key) -> str:
    """The Serve application of a module version (Serve names: letters, digits, - _ .)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{key[0]}--{key[1]}")


class RayServePool:
    """Catalog module versions as Ray Serve applications, deployed on their first request."""

    def __init__(
        self,
        settings: Settings,
        catalog: CatalogService,
        metrics: GatewayMetrics | None = None,
        *,
        start: AppStarter,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.start = start
        self.records = CatalogRecords(catalog.registry, settings.catalog_cache_seconds)
        self.metrics = metrics or GatewayMetrics()
        self._handles: dict[Key, Any] = {}
        self._failures: dict[Key, tuple[float, str]] = {}
        self._deployed_at: dict[Key, datetime] = {}
        self._last_used: dict[Key, datetime] = {}
        self._deploying: dict[Key, asyncio.Lock] = {}
        self._connect_lock = threading.Lock()
        self._driver = RayDriver("ray-serve-driver")
        self._owns_cluster = False
        self._connected = False

    # -- the cluster ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Start a local Ray (or join ``ray_address``) and Serve, without its HTTP proxy."""
        with self._connect_lock:
            if self._connected:
                return
            try:
                import ray
                from ray import serve
            except ImportError as exc:
                raise ExecutorError(f"Ray Serve serving needs Ray: {INSTALL_HINT}") from exc
            try:
                if not ray.is_initialized():
                    self._driver.start()  # the cluster lives as long as this thread
                    self._driver.call(self._init)
                serve.start(proxy_location="Disabled")
            except Exception as exc:
                where = self.settings.ray_address or "a local Ray cluster"
                raise ExecutorError(f"cannot start Ray Serve on {where}: {exc}") from exc
            self._connected = True

    def _init(self) -> None:
        """Start a local cluster listening on 127.0.0.1 only, or join ``ray_address`` (on the
        driver thread: Linux ends a cluster's processes with the thread that started them)."""
        if self.settings.ray_address is None:
            start_local_cluster(None, None)
            self._owns_cluster = True
        else:
            join_cluster(self.settings.ray_address)

    def _deploy(self, record: VersionRecord) -> Any:
        from ray import serve

        from modelport.jobs.executors.ray import import_path

        key = (record.module, record.version)
        gpus = gpus_asked(record.metadata) if self.settings.serving_gpus else 0
        idle = self.settings.model_idle_timeout or 365 * 24 * 3600.0
        look_back = min(MAX_LOOK_BACK_S, max(MIN_LOOK_BACK_S, idle))
        deployment = serve.deployment(
            name="model",
            max_ongoing_requests=self.settings.predict_concurrency + self.settings.predict_queue,
            autoscaling_config={
                "min_replicas": 0,
                "initial_replicas": 0,
                "max_replicas": self.settings.ray_serve_max_replicas,
                "target_ongoing_requests": TARGET_ONGOING_REQUESTS,
                "upscale_delay_s": 0.0,
                "downscale_delay_s": idle,
                "downscale_to_zero_delay_s": idle,
                "look_back_period_s": look_back,
            },
            ray_actor_options={
                "num_cpus": 0,  # serving shares the node with training; the limits are ours
                # with serving_gpus set: what its metadata asks (resources.inference.gpu), a
                # share of each GPU when serving_gpu_share lets several replicas use one
                "num_gpus": gpus / self.settings.serving_gpu_share,
                "runtime_env": {"env_vars": {"PYTHONPATH": import_path()}},
            },
        )(ModelReplica)
        config = worker_config(self.settings, self.catalog, record)
        # the store's credentials go as an argument of the replica, never in its config (JSON
        # that is logged) nor its environment (which the module's code would inherit)
        options = self.settings.storage_options_for(self.catalog.artifacts.root_url)
        return serve.run(
            deployment.bind(config, self.start, options),
            name=app_name(key),
            route_prefix=None,
            blocking=False,
        )

    def _failed(self, record: VersionRecord, exc: Exception) -> ModelNotReady:
        """Remember a failed call for ``START_BACKOFF`` s (calls meanwhile fail at once)."""
        message = self._failure(record, exc)
        self._failures[(record.module, record.version)] = (
            time.monotonic() + START_BACKOFF,
            message,
        )
        return ModelNotReady(message)

    async def _handle(self, record: VersionRecord) -> Any:
        failed = self._failures.get((record.module, record.version))
        if failed is not None:
            if failed[0] > time.monotonic():
                raise ModelNotReady(failed[1])
            del self._failures[(record.module, record.version)]
        key = (record.module, record.version)
        handle = self._handles.get(key)
        if handle is not None:
            return handle
        lock = self._deploying.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._handles:
                await asyncio.to_thread(self.connect)
                try:
                    self._handles[key] = await asyncio.to_thread(self._deploy, record)
                except Exception as exc:
                    raise ModelNotReady(
                        f"cannot deploy {record.module} {record.version} on Ray Serve: {exc}"
                    ) from exc
                self._deployed_at[key] = datetime.now(UTC)
                self.metrics.loaded.set(len(self._handles))
        return self._handles[key]

    # -- the public API (the same as ModelPool's) -----------------------------------------------

    async def resolve(self, module: str, ref: str = "latest") -> VersionRecord:
        """The version a reference names; NotFound for an unknown module, version or alias."""
        return await self.records.version(module, ref)

    async def call(
        self,
        module: str,
        ref: str,
        scope: Mapping[str, Any],
        receive_body: AsyncIterable[bytes],
    ) -> GatewayResponse:
        """Proxy one request to a replica of the module version's deployment."""
        record = await self.resolve(module, ref)
        body = await self._read_body(receive_body)
        started = time.perf_counter()  # a cold start includes deploying the application
        handle = await self._handle(record)
        headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", [])]
        try:
            frame, cold = await handle.http.remote(worker_scope(scope, headers), body)
        except Exception as exc:
            raise self._failed(record, exc) from None
        _, _, status, headers_back, content = _reply(frame)
        key = (record.module, record.version)
        self._last_used[key] = datetime.now(UTC)
        cold_start = None
        if cold:
            cold_start = time.perf_counter() - started
            self.metrics.cold_start.labels(record.module).observe(cold_start)
        answer = (status, response_headers(headers_back), content, cold_start, record.version)
        return GatewayResponse(*answer, record.yanked_because)

    async def prepare_train(
        self, module: str, ref: str, raw: RawArgs
    ) -> tuple[VersionRecord, PreparedTraining]:
        """Validate training arguments with the module's own code, in a replica."""
        record = await self.resolve(module, ref)
        files = [k for k, vs in raw.multi.items() if any(not isinstance(v, str) for v in vs)]
        if files:
            message = "A training takes JSON arguments; upload files as data first."
            raise InvalidInput({key: [message] for key in files})
        handle = await self._handle(record)
        try:
            kind, _, value = _reply(await handle.prepare_train.remote(raw))
        except Exception as exc:
            raise self._failed(record, exc) from None
        if kind == "error" and isinstance(value, ModelportError):
            raise value
        args, shown = value
        return record, PreparedTraining(args, shown)

    def loaded(self) -> list[WorkerInfo]:
        """The deployed module versions (their replicas scale on their own, down to zero)."""
        return [
            WorkerInfo(
                module=key[0],
                version=key[1],
                pid=0,
                loaded_at=self._deployed_at[key],
                last_used=self._last_used.get(key, self._deployed_at[key]),
                in_flight=0,
                cold_start_seconds=0.0,
            )
            for key in sorted(self._handles)
        ]

    async def close(self) -> None:
        """Delete the applications this gateway deployed; stop the cluster if it started it."""
        if not self._connected:
            return

        def shutdown() -> None:
            import ray
            from ray import serve

            for key in list(self._handles):
                try:
                    serve.delete(app_name(key))
                except Exception:  # the cluster may already be gone
                    log.warning("cannot delete the Serve application of %s %s", *key)
            self._handles.clear()
            if self._owns_cluster:
                serve.shutdown()  # type: ignore[no-untyped-call]
                self._driver.call(ray.shutdown)
            self._driver.stop()

        await asyncio.to_thread(shutdown)
        self._connected = self._owns_cluster = False  # closing twice touches nothing
        self._deployed_at.clear()
        self._last_used.clear()
        self.metrics.loaded.set(0)

    # -- helpers --------------------------------------------------------------------------------

    async def _read_body(self, chunks: AsyncIterable[bytes]) -> bytes:
        limit = self.settings.max_upload_size
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            parts.append(chunk)
        return b"".join(parts)

    @staticmethod
    def _failure(record: VersionRecord, exc: Exception) -> str:
        cause = getattr(exc, "cause", None) or exc
        text = str(cause).strip().splitlines()
        detail = text[-1] if text else type(cause).__name__
        return f"{record.module} {record.version} failed on Ray Serve: {detail}"
