"""The gateway's hook: predictions to an alias under a rollout go to the version it picks.

``RolloutRouter.call`` stands where the gateway would call its model server
(``api/gateway.py`` ``GatewayEndpoints._proxy``). A reference that is a version number or
``latest``, or an alias without a rollout, goes straight to the server, as before. For an alias
under a rollout it picks the version (``domain.choose``: sticky by a request header, else random
with the weights), calls it, and records the answer (status, latency) in the Prometheus metrics
and in the rollout's window; when the window says so, it rolls the canary back (audited in the
database, so every replica follows; this replica routes to the primary at once).

With a shadow, the request body is kept in memory as it is read (up to ``shadow_body_limit``;
a bigger one is not shadowed, counted as ``too_large``), and after the primary's answer has been
sent (``Routed.after``, a background task of the response) a copy goes to the shadow version:
its answer is only recorded (latency, status, whether its JSON equals the primary's). At most
``max_shadows`` are in flight; more are dropped and counted (``busy``), so that shadows never
take workers or memory from the answers that matter.

Rollouts are read per module and kept while the catalog's generation stays (the generation the
request's module lookup checked: ``CatalogRecords.held``), so a change on any replica is routed
by from the next request on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from modelport.catalog.domain import LATEST
from modelport.catalog.versions import is_version
from modelport.errors import (
    ModelError,
    ModelNotReady,
    ModelportError,
    Overloaded,
    PredictTimeout,
    StoreError,
)
from modelport.gateway.base import ModelServer
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.process import GatewayResponse
from modelport.rollouts.domain import Role, Rollout, choose
from modelport.rollouts.service import RolloutService
from modelport.rollouts.window import LiveStats, RolloutWindow

log = logging.getLogger(__name__)

#: Largest request body copied to a shadow (bigger ones are not shadowed).
SHADOW_BODY_LIMIT: Final = 1024 * 1024
#: Shadow requests in flight at most (more are dropped).
MAX_SHADOWS: Final = 8
#: Errors that count against a version: its failures, not the caller's mistakes.
_FAILURES: Final = (ModelError, ModelNotReady, PredictTimeout, Overloaded, StoreError)


@dataclass
class Routed:
    """A routed answer, and what to run once it has been sent (the shadow's copy)."""

    response: GatewayResponse
    after: Callable[[], Awaitable[None]] | None = None


class _Copy:
    """A request body's chunks, kept as they pass, up to ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.over = False

    async def tee(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            if not self.over:
                self.size += len(chunk)
                if self.size > self.limit:
                    self.over = True
                    self.parts.clear()
                else:
                    self.parts.append(chunk)
            yield chunk


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _json_of(response: GatewayResponse) -> Any:
    """The response's JSON document; raises ValueError when it is not JSON."""
    for key, value in response.headers:
        if key.lower() == b"content-type":
            if b"json" not in value.lower():
                raise ValueError("not JSON")
            return json.loads(response.body)
    raise ValueError("no content type")


class RolloutRouter:
    """Routes predictions to aliases under a rollout, over ``pool``."""

    def __init__(
        self,
        pool: ModelServer,
        service: RolloutService,
        metrics: GatewayMetrics | None = None,
        *,
        max_shadows: int = MAX_SHADOWS,
        shadow_body_limit: int = SHADOW_BODY_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.service = service
        self.metrics = metrics or GatewayMetrics()
        self.max_shadows = max_shadows
        self.shadow_body_limit = shadow_body_limit
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (traffic split, not secrets)
        self._generation: int | None = None
        self._kept: dict[str, dict[str, Rollout]] = {}
        self._loading: dict[tuple[str, int], asyncio.Future[dict[str, Rollout]]] = {}
        self._windows: dict[tuple[str, str], RolloutWindow] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._shadows = 0

    # -- routing --------------------------------------------------------------------------------

    async def call(
        self,
        name: str,
        ref: str,
        scope: Mapping[str, Any],
        body: AsyncIterable[bytes],
    ) -> Routed:
        """Proxy one request to the version ``ref`` names, or that its rollout picks."""
        rollout = None
        if ref != LATEST and not is_version(ref):
            rollout = await self.rollout(name, ref)
        if rollout is None:
            return Routed(await self.pool.call(name, ref, scope, body))
        window = self._window(rollout)
        version, role = self._choose(rollout, window, scope)
        copy = None
        if rollout.shadow is not None:
            copy = _Copy(self.shadow_body_limit)
            body = copy.tee(body)
        started = self.clock()
        try:
            response = await self.pool.call(name, version, scope, body)
        except _FAILURES:
            self._record(rollout, window, role, version, ok=False, started=started)
            raise
        self._record(rollout, window, role, version, ok=response.status < 500, started=started)
        if rollout.shadow is None or copy is None:
            return Routed(response)
        shadow = partial(self._launch_shadow, rollout, window, scope, copy, response)
        return Routed(response, shadow)

    async def rollout(self, name: str, alias: str) -> Rollout | None:
        """The rollout on ``alias`` of ``name``, kept while the catalog's generation stays."""
        generation = self.pool.records.held
        if generation is None:
            generation = await self.pool.records.generation.fresh()
        if generation != self._generation:
            self._kept.clear()
            self._generation = generation
        found = self._kept.get(name)
        if found is None:
            key = (name, generation)
            loading = self._loading.get(key)
            if loading is None:
                loading = asyncio.ensure_future(
                    asyncio.to_thread(self.service.store.of_module, name)
                )
                self._loading[key] = loading
                loading.add_done_callback(partial(self._loaded, key))
            found = await asyncio.shield(loading)
        return found.get(alias)

    def _loaded(self, key: tuple[str, int], loading: asyncio.Future[dict[str, Rollout]]) -> None:
        del self._loading[key]
        if not loading.cancelled() and loading.exception() is None and key[1] == self._generation:
            self._kept[key[0]] = loading.result()

    def _window(self, rollout: Rollout) -> RolloutWindow:
        window = self._kept_window(rollout)
        if window is None:
            window = RolloutWindow(rollout.revision, rollout.policy.window_seconds)
            self._windows[rollout.module, rollout.alias] = window
        return window

    def _kept_window(self, rollout: Rollout) -> RolloutWindow | None:
        """The window of ``rollout``'s revision; a rollback keeps the window that led to it
        (any other change starts a new one)."""
        window = self._windows.get((rollout.module, rollout.alias))
        if window is None or window.revision == rollout.revision:
            return window
        if rollout.state == "rolled back":
            window.revision = rollout.revision
            return window
        return None

    def _choose(
        self, rollout: Rollout, window: RolloutWindow, scope: Mapping[str, Any]
    ) -> tuple[str, Role]:
        if window.rolled_back:  # decided here; the database write may still be under way
            return rollout.primary, "primary"
        key = None
        if rollout.sticky_header is not None:
            wanted = rollout.sticky_header.encode("latin-1")
            for header, value in scope.get("headers", ()):
                if bytes(header).lower() == wanted:
                    key = bytes(value).decode("latin-1")
                    break
        return choose(rollout, key, self.rng)

    def _record(
        self,
        rollout: Rollout,
        window: RolloutWindow,
        role: Role,
        version: str,
        *,
        ok: bool,
        started: float,
        agreed: bool | None = None,
    ) -> None:
        now = self.clock()
        labels = (rollout.module, version, role)
        self.metrics.version_requests.labels(*labels).inc()
        if not ok:
            self.metrics.version_errors.labels(*labels).inc()
        self.metrics.version_latency.labels(*labels).observe(now - started)
        window.add(role, version, now=now, ok=ok, seconds=now - started, agreed=agreed)
        if role != "shadow":
            self._judge(rollout, window, now)

    def _judge(self, rollout: Rollout, window: RolloutWindow, now: float) -> None:
        """Roll the canary back if the window says so (checked at most every 0.1 s)."""
        policy = rollout.policy
        if (
            not policy.enabled
            or rollout.state != "active"
            or rollout.canary is None
            or rollout.weight <= 0
            or window.rolled_back
            or now - window.last_check < 0.1
        ):
            return
        window.last_check = now
        reason = window.verdict(policy, now)
        if reason is None:
            return
        window.rolled_back = True
        self.metrics.rollbacks.labels(rollout.module, rollout.alias).inc()
        log.warning(
            "rolling back the canary %s of %s %s: %s",
            rollout.canary,
            rollout.module,
            rollout.alias,
            reason,
        )
        write = asyncio.to_thread(
            self.service.automatic_rollback,
            rollout.module,
            rollout.alias,
            rollout.revision,
            reason,
        )
        self._keep(asyncio.ensure_future(write))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a rollout task failed: %s", exc)

    # -- shadows --------------------------------------------------------------------------------

    async def _launch_shadow(
        self,
        rollout: Rollout,
        window: RolloutWindow,
        scope: Mapping[str, Any],
        copy: _Copy,
        primary: GatewayResponse,
    ) -> None:
        """Send the copy to the shadow in the background (after the primary's answer)."""
        reason = None
        if copy.over:
            reason = "too_large"
        elif primary.stream is not None:
            reason = "stream"
        elif self._shadows >= self.max_shadows:
            reason = "busy"
        if reason is not None:
            window.skipped[reason] += 1
            self.metrics.shadow_skipped.labels(rollout.module, reason).inc()
            return
        self._shadows += 1
        body = b"".join(copy.parts)
        self._keep(asyncio.ensure_future(self._shadow(rollout, window, scope, body, primary)))

    async def _shadow(
        self,
        rollout: Rollout,
        window: RolloutWindow,
        scope: Mapping[str, Any],
        body: bytes,
        primary: GatewayResponse,
    ) -> None:
        version = rollout.shadow
        assert version is not None
        started = self.clock()
        try:
            try:
                answer = await self.pool.call(rollout.module, version, scope, _once(body))
            except ModelportError:
                self._record(rollout, window, "shadow", version, ok=False, started=started)
                return
            if answer.stream is not None:
                await answer.stream.aclose()
            agreed = self._compare(rollout.module, version, primary, answer)
            ok = answer.status < 500
            self._record(rollout, window, "shadow", version, ok=ok, started=started, agreed=agreed)
        finally:
            self._shadows -= 1

    def _compare(
        self, module: str, version: str, primary: GatewayResponse, shadow: GatewayResponse
    ) -> bool | None:
        """Whether the shadow's JSON answer equals the primary's (None: the primary's is not
        JSON)."""
        try:
            expected = _json_of(primary)
        except ValueError:
            self.metrics.shadow_comparisons.labels(module, version, "not_json").inc()
            return None
        try:
            agreed = shadow.status == primary.status and _json_of(shadow) == expected
        except ValueError:
            agreed = False
        outcome = "agreed" if agreed else "disagreed"
        self.metrics.shadow_comparisons.labels(module, version, outcome).inc()
        return agreed

    # -- status ---------------------------------------------------------------------------------

    def live(self, rollout: Rollout) -> LiveStats | None:
        """What this replica saw of ``rollout`` over its window (None: nothing yet)."""
        window = self._kept_window(rollout)
        return window.live(self.clock()) if window is not None else None

    async def close(self) -> None:
        """Wait for the shadows and rollbacks under way (call before closing the pool)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
