"""Rollouts and their audit log in the database (``catalog_rollouts``, ``catalog_rollout_events``).

Every change is one transaction: the module's row locked (PostgreSQL: concurrent changes of a
module queue), the rollout read, changed by the caller's function, written with one audit event
(the rollout before and after), the alias moved to the rollout's primary when that changed, and
the catalog's generation bumped last (``catalog.generation``), so that every replica's gateway
routes by the new weights from its next request on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from modelport.catalog.generation import bump
from modelport.catalog.registry_latest import write_alias
from modelport.clock import utcnow
from modelport.db.engine import transaction
from modelport.db.tables import catalog_modules, catalog_rollout_events, catalog_rollouts
from modelport.errors import NotFound
from modelport.rollouts.domain import RollbackPolicy, Rollout, RolloutEvent

#: A change: the rollout now (None: none) -> the rollout wanted (None: none).
Change = Callable[[Rollout | None], Rollout | None]

_R = catalog_rollouts.c


def _record(row: Any) -> Rollout:
    return Rollout(
        module=row.module,
        alias=row.alias,
        primary=row.primary_version,
        canary=row.canary_version,
        weight=row.canary_weight,
        shadow=row.shadow_version,
        sticky_header=row.sticky_header,
        policy=RollbackPolicy.model_validate(row.policy or {}),
        state=row.state,
        reason=row.reason,
        revision=row.revision,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _columns(rollout: Rollout) -> dict[str, Any]:
    return {
        "primary_version": rollout.primary,
        "canary_version": rollout.canary,
        "canary_weight": rollout.weight,
        "shadow_version": rollout.shadow,
        "sticky_header": rollout.sticky_header,
        "policy": rollout.policy.model_dump(mode="json"),
        "state": rollout.state,
        "reason": rollout.reason,
        "revision": rollout.revision,
        "updated_at": rollout.updated_at,
        "updated_by": rollout.updated_by,
    }


def _same(a: Rollout | None, b: Rollout | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.routing() == b.routing() and a.reason == b.reason


class RolloutStore:
    """The rollouts of one catalog database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, module: str, alias: str) -> Rollout | None:
        """The rollout on ``alias`` of ``module``, if any."""
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(catalog_rollouts).where(_R.module == module, _R.alias == alias)
            ).first()
        return _record(row) if row is not None else None

    def of_module(self, module: str) -> dict[str, Rollout]:
        """The rollouts of ``module``, by alias."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(catalog_rollouts).where(_R.module == module)).all()
        return {row.alias: _record(row) for row in rows}

    def change(
        self,
        module: str,
        alias: str,
        apply: Change,
        *,
        actor: str | None,
        action: str,
        reason: str | None = None,
    ) -> Rollout | None:
        """Apply ``apply`` to the rollout in one audited transaction; the rollout after it.

        Nothing is written (no event, no bump) when ``apply`` changes nothing."""
        with transaction(self.engine) as conn:
            locked = conn.execute(
                select(catalog_modules.c.name)
                .where(catalog_modules.c.name == module)
                .with_for_update()
            ).first()
            if locked is None:
                raise NotFound(f"module '{module}' not found")
            row = conn.execute(
                select(catalog_rollouts).where(_R.module == module, _R.alias == alias)
            ).first()
            before = _record(row) if row is not None else None
            after = apply(before)
            if _same(before, after):
                return before
            if after is not None:
                after = after.model_copy(
                    update={
                        "module": module,
                        "alias": alias,
                        "revision": (before.revision + 1) if before is not None else 1,
                        "updated_at": utcnow(),
                        "updated_by": actor,
                    }
                )
            self._write(conn, module, alias, before, after)
            conn.execute(
                insert(catalog_rollout_events).values(
                    module=module,
                    alias=alias,
                    at=utcnow(),
                    actor=actor,
                    action=action,
                    before=before.routing() if before is not None else None,
                    after=after.routing() if after is not None else None,
                    reason=reason,
                )
            )
            bump(conn)
        return after

    @staticmethod
    def _write(
        conn: Connection, module: str, alias: str, before: Rollout | None, after: Rollout | None
    ) -> None:
        where = (_R.module == module, _R.alias == alias)
        if after is None:
            conn.execute(delete(catalog_rollouts).where(*where))
            return
        if before is None:
            conn.execute(
                insert(catalog_rollouts).values(module=module, alias=alias, **_columns(after))
            )
        else:
            conn.execute(update(catalog_rollouts).where(*where).values(**_columns(after)))
        if before is None or before.primary != after.primary:
            write_alias(conn, module, alias, after.primary)  # the alias names the primary

    def history(self, module: str, alias: str, limit: int = 100) -> list[RolloutEvent]:
        """The audited changes of the rollout on ``alias``, newest first."""
        e = catalog_rollout_events.c
        with transaction(self.engine) as conn:
            rows = conn.execute(
                select(catalog_rollout_events)
                .where(e.module == module, e.alias == alias)
                .order_by(e.id.desc())
                .limit(limit)
            ).all()
        return [RolloutEvent.model_validate(row._asdict()) for row in rows]
