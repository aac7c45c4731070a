"""The pool of model workers: one process per loaded catalog module version, started on demand.

``call(module, ref, ...)`` resolves the reference (a version, an alias or ``latest``) to a
version, starts its worker if none runs (concurrent first calls share one start), and proxies
the request to it. Workers unused for ``model_idle_timeout`` seconds are unloaded by a reaper
task, never while a request is in flight. ``max_loaded_models`` holds under any load (each
worker holds a model's memory: going over would trade a clear 503 for the host's OOM killer):
starting one more first unloads the least recently used idle worker; when every loaded worker
is busy the start waits, in order of arrival, until one is idle or gone — at most
``model_room_wait`` seconds, with at most ``model_room_queue`` starts waiting; beyond either
it answers 503 with Retry-After (Overloaded). A worker that dies (crash, OOM kill) fails its
in-flight requests with a ModelError naming the module and how it died; the next call starts a
fresh one. A worker that fails to start is remembered for ``start_backoff`` seconds: calls
meanwhile answer 503 (ModelNotReady) with the cause at once instead of spawning a process each.

Request bodies are read here, within ``max_upload_size`` (see ``modelport.gateway.pool_body``):
up to 1 MiB they travel inline in the request frame, larger ones are spooled to a private
temporary file (0600) whose path travels instead and which is deleted once the response is back,
whatever happened.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.contract.base import PreparedTraining, RawArgs
from modelport.contract.files import UploadedFile
from modelport.errors import (
    InvalidInput,
    ModelError,
    ModelNotReady,
    ModelportError,
    PredictTimeout,
    StartFailed,
)
from modelport.gateway.artifacts import materialize
from modelport.gateway.exposure import response_headers, worker_scope
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.pool_body import INLINE_BODY_LIMIT, Body, read_body
from modelport.gateway.process import (
    GatewayResponse,
    Headers,
    Key,
    WorkerInfo,
    WorkerProcess,
    describe_exit,
    spawn_worker,
    worker_config,
)
from modelport.gateway.records import CatalogRecords
from modelport.gateway.slots import ROOM_RETRY_AFTER, GpuSlots, gpus_asked, no_gpu, no_room
from modelport.sandbox import Sandbox, SandboxSpec
from modelport.sandbox.none import NoSandbox

if TYPE_CHECKING:
    from modelport.catalog.domain import VersionRecord
    from modelport.catalog.service import CatalogService
    from modelport.settings import Settings

# INLINE_BODY_LIMIT lives in gateway/pool_body.py; it is re-exported for the pool's callers.
__all__ = ["INLINE_BODY_LIMIT", "RESPONSE_GRACE", "ROOM_RETRY_AFTER", "START_BACKOFF", "ModelPool"]

log = logging.getLogger(__name__)

#: Seconds a module whose worker failed to start answers 503 at once instead of retrying.
START_BACKOFF = 10.0
#: Seconds past ``predict_timeout`` the gateway waits for a worker's answer (its own 504 first).
RESPONSE_GRACE = 30.0
#: Seconds a caller refused for lack of room is told to wait (Retry-After).


class ModelPool:
    """Catalog module versions served on demand, each in its own worker process."""

    def __init__(
        self,
        settings: Settings,
        catalog: CatalogService,
        metrics: GatewayMetrics | None = None,
        *,
        spool_dir: Path | None = None,
        start_backoff: float = START_BACKOFF,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.sandbox = sandbox or NoSandbox()
        self.records = CatalogRecords(catalog.registry, settings.catalog_cache_seconds)
        self.metrics = metrics or GatewayMetrics()
        self.spool_dir = spool_dir
        self.start_backoff = start_backoff
        self._workers: dict[Key, WorkerProcess] = {}
        self._starting: dict[Key, asyncio.Task[WorkerProcess]] = {}
        self._failures: dict[Key, tuple[float, str]] = {}
        #: starts given room, whose worker has not joined ``_workers`` yet
        self._admitted = 0
        #: unloads started in the background (kept referenced until done)
        self._stopping: set[asyncio.Task[None]] = set()
        #: starts waiting for room, first come first served; each gets the worker to unload
        self._room_waiters: collections.deque[asyncio.Future[WorkerProcess | None]] = (
            collections.deque()
        )
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self.gpu_slots = GpuSlots(settings.serving_gpus, settings.serving_gpu_share)
        self._gpus_of: dict[WorkerProcess, list[int]] = {}  # (gateway/slots.py)
        timeout = settings.predict_timeout
        self._request_timeout = timeout + RESPONSE_GRACE if timeout is not None else None

    # -- the public API -------------------------------------------------------------------------

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
        """Proxy one HTTP request (an ASGI-like ``scope`` and its body) to the module's worker.

        ``scope['path']`` is the path the worker's app sees (``/v2/models/<module>/predict/``).
        """
        record = await self.resolve(module, ref)
        headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", [])]
        body = await self._read_body(headers, receive_body)
        stream = None
        try:
            worker, cold_start = await self._acquire(record)
            try:
                frame = await worker.request(
                    "http",
                    (worker_scope(scope, headers), body.inline, body.path is not None),
                    self._request_timeout,
                    body_file=body.path,
                )
                if frame[0] == "start":  # the rest comes in parts: the worker stays busy
                    stream = worker.answer_parts(frame[1], partial(self._release, worker))
            except PredictTimeout:  # not even its own 504 in time: it is wedged
                self._retire_stuck(worker, "it did not answer")
                raise
            finally:
                if stream is None:
                    self._release(worker)
        finally:
            body.discard()
        if stream is not None:
            _, _, status, headers_back = frame
            answer = (status, response_headers(headers_back), b"", cold_start, record.version)
            return GatewayResponse(*answer, record.yanked_because, stream=stream)
        _, _, status, headers_back, content = frame
        worker.timeouts_in_a_row = worker.timeouts_in_a_row + 1 if status == 504 else 0
        if worker.timeouts_in_a_row >= self.settings.predict_concurrency:
            # every one of its prediction threads may be stuck past its deadline
            self._retire_stuck(worker, f"{worker.timeouts_in_a_row} predictions in a row timed out")
        answer = (status, response_headers(headers_back), content, cold_start, record.version)
        return GatewayResponse(*answer, record.yanked_because)

    async def prepare_train(
        self, module: str, ref: str, raw: RawArgs
    ) -> tuple[VersionRecord, PreparedTraining]:
        """Validate training arguments with the module's own code, in its worker."""
        record = await self.resolve(module, ref)
        multi: dict[str, list[str | UploadedFile]] = {}
        files = []
        for key, values in raw.multi.items():
            if any(not isinstance(v, str) for v in values):
                files.append(key)
            multi[key] = [v for v in values if isinstance(v, str)]
        if files:
            message = "A training takes JSON arguments; upload files as data first."
            raise InvalidInput({key: [message] for key in files})
        worker, _ = await self._acquire(record)
        try:
            frame = await worker.request(
                "prepare_train",
                (RawArgs(multi=multi, json=raw.json, accept=raw.accept, query=raw.query),),
                self._request_timeout,
            )
        finally:
            self._release(worker)
        if frame[0] == "error" and isinstance(frame[2], ModelportError):
            raise frame[2]
        args, shown = frame[2]
        return record, PreparedTraining(args, shown)

    def loaded(self) -> list[WorkerInfo]:
        """The workers loaded now, by module and version."""
        return sorted(
            (w.info() for w in self._workers.values()), key=lambda i: (i.module, i.version)
        )

    async def close(self) -> None:
        """Stop the reaper and every worker (starting ones too); no process is left behind."""
        self._closed = True
        while self._room_waiters:
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ModelNotReady("the gateway is shutting down"))
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        starting = list(self._starting.values())
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        await asyncio.gather(*self._stopping, return_exceptions=True)
        workers = list(self._workers.values())
        self._workers.clear()
        for worker in workers:
            worker.stopping = worker.stopping or "shutdown"
        await asyncio.gather(*(w.stop() for w in workers))
        self.metrics.loaded.set(0)

    # -- workers --------------------------------------------------------------------------------

    async def _acquire(self, record: VersionRecord) -> tuple[WorkerProcess, float | None]:
        key = (record.module, record.version)
        for _ in range(3):  # a worker that died between its start and our turn: start again
            if self._closed:
                raise ModelNotReady("the gateway is shutting down")
            self._ensure_reaper()
            worker = self._workers.get(key)
            cold_start = None
            if worker is None or not worker.alive:
                worker = await asyncio.shield(self._start_task(record))
                cold_start = worker.cold_start
            if worker.alive and worker.stopping is None:  # not unloaded since it started
                worker.in_flight += 1  # no await since the check: the reaper cannot interleave
                worker.touch()
                return worker, cold_start
        raise ModelError(f"the worker of model '{record.module}' {record.version} keeps dying")

    def _start_task(self, record: VersionRecord) -> asyncio.Task[WorkerProcess]:
        key = (record.module, record.version)
        failure = self._failures.get(key)
        if failure is not None:
            if failure[0] > time.monotonic():
                raise ModelNotReady(failure[1])
            del self._failures[key]
        task = self._starting.get(key)
        if task is None:
            task = asyncio.create_task(self._start(record), name=f"start {key[0]} {key[1]}")
            self._starting[key] = task
            task.add_done_callback(lambda done: self._forget_start(key, done))
        return task

    def _forget_start(self, key: Key, task: asyncio.Task[WorkerProcess]) -> None:
        if self._starting.get(key) is task:
            del self._starting[key]
        if not task.cancelled():
            task.exception()  # retrieved: its waiters may all have gone (client disconnects)

    async def _start(self, record: VersionRecord) -> WorkerProcess:
        key = (record.module, record.version)
        await self._make_room(record.module)
        try:
            worker = await self._spawn(record)
        except BaseException:
            self._free_room()
            raise
        self.metrics.cold_start.labels(record.module).observe(worker.cold_start)
        if self._closed:
            self._free_room()
            await worker.stop()
            raise ModelNotReady("the gateway is shutting down")
        self._admitted -= 1  # the room is the worker's now (no await in between)
        self._workers[key] = worker
        self.metrics.loaded.set(len(self._workers))
        log.info("loaded %s %s (pid %d) in %.2f s", *key, worker.pid, worker.cold_start)
        return worker

    async def _spawn(self, record: VersionRecord) -> WorkerProcess:
        key = (record.module, record.version)
        gpus = self._take_gpus(record)
        try:
            config, spec = await asyncio.to_thread(self._prepare, record)
            if self.gpu_slots.count:  # its GPUs only (none if it asks for none)
                config["gpus"] = [str(i) for i in gpus]
            worker = await spawn_worker(
                key,
                config,
                self.settings.model_start_timeout,
                self._exited,
                sandbox=self.sandbox,
                spec=spec,
                max_frame=self.settings.max_worker_frame,
            )
            self._gpus_of[worker] = gpus  # given back when its process ends (_exited)
            return worker
        except BaseException as exc:
            self.gpu_slots.give_back(gpus)
            if not isinstance(exc, StartFailed):
                raise
            message = str(exc)
            self._failures[key] = (time.monotonic() + self.start_backoff, message)
            self.metrics.start_failures.labels(record.module).inc()
            log.warning("cannot serve %s %s: %s", record.module, record.version, message)
            raise ModelNotReady(message) from None

    def _prepare(self, record: VersionRecord) -> tuple[dict[str, Any], SandboxSpec]:
        """The worker's configuration and confinement: its artifacts fetched here (it sees them
        read-only, never the store), its own state directory, its memory cap, network or not."""
        target = self.settings.model_version_dir(record.module, record.version)
        try:
            # the catalog's store, opened with its storage_options (credentials stay here)
            model_dir = materialize(self.catalog.artifacts, _artifacts(record), target)
        except ModelportError as exc:
            label = f"module '{record.module}' {record.version}"
            raise StartFailed(f"{label}: its artifacts cannot be fetched: {exc.message}") from exc
        state = self.settings.module_state_dir(record.module)
        config = worker_config(self.settings, self.catalog, record)
        config.update(
            model_dir=str(model_dir),
            state_dir=str(state),
            memory_mb=self.settings.module_memory_mb,
        )
        spec = SandboxSpec(
            read_only=(model_dir,),
            writable=(state,),
            network=record.module in self.settings.network_modules,
            workdir=state,
        )
        return config, spec

    def _release(self, worker: WorkerProcess) -> None:
        worker.in_flight -= 1
        worker.touch()
        if worker.in_flight == 0:
            self._grant_room()

    def _take_gpus(self, record: VersionRecord) -> list[int]:
        need = gpus_asked(record.metadata) if self.gpu_slots.count else 0
        gpus = self.gpu_slots.take(need) if need else []
        if gpus is None:
            raise no_gpu(record.module, need, self.gpu_slots)
        return gpus

    def _exited(self, worker: WorkerProcess, returncode: int) -> None:
        self.gpu_slots.give_back(self._gpus_of.pop(worker, []))
        if self._workers.get(worker.key) is worker:
            del self._workers[worker.key]
            self._grant_room()
        self.metrics.loaded.set(len(self._workers))
        reason = worker.stopping or "crash"
        self.metrics.unloads.labels(worker.module, reason).inc()
        if reason == "crash":
            log.error(
                "the worker of %s %s (pid %d) %s",
                worker.module,
                worker.version,
                worker.pid,
                describe_exit(returncode),
            )
        else:
            log.info("unloaded %s %s (%s)", worker.module, worker.version, reason)

    def _retire_stuck(self, worker: WorkerProcess, why: str) -> None:
        """Replace a worker whose predictions no longer end: the next call starts a new one
        (this one is stopped, killed after the grace period if its threads hold it)."""
        if worker.stopping is not None:
            return
        log.warning("restarting the worker of %s %s: %s", worker.module, worker.version, why)
        stopping = asyncio.create_task(self._detach(worker, "stuck").stop())
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)
        self._grant_room()

    def _detach(self, worker: WorkerProcess, reason: str) -> WorkerProcess:
        """Take a worker out of the pool now (no new request reaches it) before stopping it."""
        if self._workers.get(worker.key) is worker:
            del self._workers[worker.key]
        worker.stopping = reason
        self.metrics.loaded.set(len(self._workers))
        return worker

    def _least_recently_used_idle(self) -> WorkerProcess | None:
        idle = [w for w in self._workers.values() if w.in_flight == 0 and w.alive]
        return min(idle, key=lambda w: w.last_used, default=None)

    # -- room for one more worker: max_loaded_models ---------------------------------------------

    def _take_room(self) -> tuple[bool, WorkerProcess | None]:
        """Room for one more worker now: a free place (True, None), the least recently used idle
        worker's, detached (True, it), or none (False, None)."""
        if len(self._workers) + self._admitted < self.settings.max_loaded_models:
            self._admitted += 1
            return True, None
        victim = self._least_recently_used_idle()
        if victim is None:
            return False, None
        self._admitted += 1
        return True, self._detach(victim, "lru")

    def _grant_room(self) -> None:
        """Give the room there is now to the starts waiting for it, first come first served."""
        while self._room_waiters and not self._closed:
            if self._room_waiters[0].done():  # timed out or cancelled meanwhile
                self._room_waiters.popleft()
                continue
            granted, victim = self._take_room()
            if not granted:
                return
            self._room_waiters.popleft().set_result(victim)

    def _free_room(self) -> None:
        """Give back the room of a start that did not become a worker."""
        self._admitted -= 1
        self._grant_room()

    async def _make_room(self, module: str) -> None:
        """Get room for one more worker (unloading the least recently used idle one), waiting
        for it if need be; Overloaded when none comes in time or too many starts wait."""
        self._grant_room()  # drops waiters gone meanwhile: earlier arrivals go first
        granted, victim = (False, None) if self._room_waiters else self._take_room()
        if not granted:
            victim = await self._wait_for_room(module)
        if victim is not None:
            try:
                await victim.stop()
            except BaseException:
                self._free_room()
                raise

    async def _wait_for_room(self, module: str) -> WorkerProcess | None:
        limit = self.settings.max_loaded_models
        if len(self._room_waiters) >= self.settings.model_room_queue:
            waiting = f"{len(self._room_waiters)} starts already wait for room (model_room_queue)"
            raise no_room(module, limit, waiting)
        waiter: asyncio.Future[WorkerProcess | None] = asyncio.get_running_loop().create_future()
        self._room_waiters.append(waiter)
        log.info("all %d loaded models are busy: %s waits for one to be idle", limit, module)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), self.settings.model_room_wait)
        except BaseException as exc:
            if not waiter.done():
                waiter.cancel()  # _grant_room skips it
            elif not waiter.cancelled() and waiter.exception() is None:
                # room granted just as we gave up: hand it on (its victim is detached already)
                if (victim := waiter.result()) is not None:
                    stopping = asyncio.create_task(victim.stop())
                    self._stopping.add(stopping)
                    stopping.add_done_callback(self._stopping.discard)
                self._free_room()
            if isinstance(exc, TimeoutError):
                waited = f"none became idle within {self.settings.model_room_wait:g} s"
                raise no_room(module, limit, waited) from None
            raise

    async def _stop_all(self, workers: Iterable[WorkerProcess]) -> None:
        await asyncio.gather(*(w.stop() for w in workers))

    # -- the reaper -----------------------------------------------------------------------------

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_loop(), name="model pool reaper")

    async def _reap_loop(self) -> None:
        timeout = self.settings.model_idle_timeout
        interval = min(1.0, max(0.05, timeout / 5)) if timeout > 0 else 1.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self._reap_once(timeout)
            except Exception:  # the reaper must outlive any one bad stop
                log.exception("the model pool's reaper failed")

    async def _reap_once(self, idle_after: float) -> None:
        now = time.monotonic()
        victims = []
        if idle_after > 0:
            for worker in list(self._workers.values()):
                if worker.in_flight == 0 and now - worker.last_used >= idle_after:
                    victims.append(self._detach(worker, "idle"))
        if victims:
            self._grant_room()
        await self._stop_all(victims)

    # -- requests -------------------------------------------------------------------------------

    async def _read_body(self, headers: Headers, chunks: AsyncIterable[bytes]) -> Body:
        """The request's body, within ``max_upload_size`` (see ``gateway/pool_body.py``)."""
        return await read_body(headers, chunks, self.settings.max_upload_size, self.spool_dir)


def _artifacts(record: VersionRecord) -> list[dict[str, Any]]:
    return [a.model_dump(include={"name", "sha256", "size"}) for a in record.artifacts]
