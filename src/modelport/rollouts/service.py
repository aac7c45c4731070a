"""``RolloutService``: start, change, promote, roll back and end rollouts, authorized and audited.

Every write checks the caller (``auth.policy.check_manage_rollout``: the module's owner or an
admin), checks what it was given (each mistake is ``InvalidInput`` naming the field, a yanked
version ``Conflict``), and goes through ``RolloutStore.change``: one transaction with its audit
event. Reads need only to see the module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, Field

from modelport.auth import policy
from modelport.catalog.domain import ModuleRecord
from modelport.catalog.versions import check_alias, check_version
from modelport.clock import utcnow
from modelport.errors import Conflict, InvalidInput, NotFound
from modelport.rollouts.domain import AUTOMATIC, RollbackPolicy, Rollout, RolloutEvent
from modelport.rollouts.store import Change, RolloutStore

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.catalog.service import CatalogService

_HEADER: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


class RolloutSpec(BaseModel):
    """A rollout to start on an alias (or to replace the one there)."""

    model_config = ConfigDict(extra="forbid")

    primary: str | None = Field(
        None, description="the version most traffic goes to; default: where the alias points"
    )
    canary: str | None = Field(None, description="the version under test")
    weight: float = Field(0.0, ge=0, le=100, description="the canary's share, percent (0-100)")
    shadow: str | None = Field(None, description="a version that gets a copy of each request")
    sticky_header: str | None = Field(
        None, description="a request header (X-Session-Id): same value, same version"
    )
    policy: RollbackPolicy = RollbackPolicy()


class RolloutService:
    """The rollouts of a catalog's modules."""

    def __init__(self, catalog: CatalogService, store: RolloutStore | None = None) -> None:
        self.catalog = catalog
        self.store = store or RolloutStore(catalog.engine)

    # -- reads ----------------------------------------------------------------------------------

    def rollouts(self, name: str, principal: Principal | None = None) -> list[Rollout]:
        """The rollouts of a module ``principal`` sees, by alias."""
        self.catalog.module(name, principal)
        return [r for _, r in sorted(self.store.of_module(name).items())]

    def rollout(self, name: str, alias: str, principal: Principal | None = None) -> Rollout:
        """The rollout on ``alias``; NotFound if there is none."""
        self.catalog.module(name, principal)
        found = self.store.get(name, alias)
        if found is None:
            raise NotFound(f"module '{name}' has no rollout on '{alias}'")
        return found

    def history(
        self, name: str, alias: str, principal: Principal | None = None, limit: int = 100
    ) -> list[RolloutEvent]:
        """The audited changes of the rollout on ``alias``, newest first (kept after its end)."""
        self.catalog.module(name, principal)
        return self.store.history(name, alias, limit)

    # -- writes ---------------------------------------------------------------------------------

    def start(
        self, name: str, alias: str, spec: RolloutSpec, principal: Principal | None = None
    ) -> Rollout:
        """Start a rollout on ``alias`` (or replace the one there); the alias then names its
        primary."""
        check_alias(alias)
        module = self._managed(name, principal)
        current = self.store.get(name, alias)
        primary = spec.primary or (current.primary if current else module.aliases.get(alias))
        if primary is None:
            raise InvalidInput(
                {"primary": [f"alias '{alias}' is not set: name the primary version"]}
            )
        self._check_version(name, primary, "primary")
        if spec.canary is not None:
            self._check_version(name, spec.canary, "canary")
            if spec.canary == primary:
                raise InvalidInput({"canary": ["the canary must differ from the primary"]})
        elif spec.weight > 0:
            raise InvalidInput({"weight": ["a weight needs a canary version"]})
        self._check_shadow(name, spec.shadow, primary, spec.canary)
        header = spec.sticky_header
        if header is not None and not _HEADER.match(header):
            raise InvalidInput({"sticky_header": [f"{header[:40]!r} is not a header name"]})
        wanted = Rollout(
            module=name,
            alias=alias,
            primary=primary,
            canary=spec.canary,
            weight=spec.weight if spec.canary is not None else 0.0,
            shadow=spec.shadow,
            sticky_header=header.lower() if header else None,
            policy=spec.policy,
            updated_at=utcnow(),
        )
        return _existing(
            self._change(name, alias, lambda _: wanted, principal, action="start"), name, alias
        )

    def set_weight(
        self, name: str, alias: str, weight: float, principal: Principal | None = None
    ) -> Rollout:
        """Give the canary ``weight`` percent (0-100); a rolled back rollout is active again."""
        if not 0 <= weight <= 100:
            raise InvalidInput({"weight": ["a weight is a percentage, 0 to 100"]})
        self._managed(name, principal)

        def apply(current: Rollout | None) -> Rollout:
            current = _existing(current, name, alias)
            if current.canary is None:
                raise Conflict(f"the rollout on '{alias}' has no canary: start one with a canary")
            return current.model_copy(update={"weight": weight, "state": "active", "reason": None})

        return _existing(self._change(name, alias, apply, principal, action="weight"), name, alias)

    def set_shadow(
        self, name: str, alias: str, version: str | None, principal: Principal | None = None
    ) -> Rollout:
        """Shadow the alias's traffic to ``version`` (None: stop shadowing)."""
        self._managed(name, principal)
        current = _existing(self.store.get(name, alias), name, alias)
        self._check_shadow(name, version, current.primary, current.canary)

        def apply(now: Rollout | None) -> Rollout:
            return _existing(now, name, alias).model_copy(update={"shadow": version})

        return _existing(self._change(name, alias, apply, principal, action="shadow"), name, alias)

    def promote(self, name: str, alias: str, principal: Principal | None = None) -> Rollout:
        """Make the canary the primary (the alias then names it); the canary's place empties."""
        self._managed(name, principal)
        current = _existing(self.store.get(name, alias), name, alias)
        if current.canary is None:
            raise Conflict(f"the rollout on '{alias}' has no canary to promote")
        self._check_version(name, current.canary, "canary")  # yanked since: 409

        def apply(now: Rollout | None) -> Rollout:
            now = _existing(now, name, alias)
            if now.canary is None:
                raise Conflict(f"the rollout on '{alias}' has no canary to promote")
            shadow = None if now.shadow == now.canary else now.shadow
            return now.model_copy(
                update={
                    "primary": now.canary,
                    "canary": None,
                    "weight": 0.0,
                    "shadow": shadow,
                    "state": "promoted",
                    "reason": None,
                }
            )

        return _existing(self._change(name, alias, apply, principal, action="promote"), name, alias)

    def rollback(
        self,
        name: str,
        alias: str,
        reason: str | None = None,
        principal: Principal | None = None,
    ) -> Rollout:
        """Send every request back to the primary: the canary's weight goes to 0."""
        self._managed(name, principal)
        why = (reason or "rolled back by hand")[:1000]

        def apply(now: Rollout | None) -> Rollout:
            now = _existing(now, name, alias)
            if now.canary is None:
                raise Conflict(f"the rollout on '{alias}' has no canary to roll back")
            return now.model_copy(update={"weight": 0.0, "state": "rolled back", "reason": why})

        return _existing(
            self._change(name, alias, apply, principal, action="rollback", reason=why), name, alias
        )

    def end(self, name: str, alias: str, principal: Principal | None = None) -> None:
        """End the rollout: the alias stays, naming the primary, as a plain alias."""
        self._managed(name, principal)

        def apply(now: Rollout | None) -> None:
            _existing(now, name, alias)

        self._change(name, alias, apply, principal, action="end")

    def automatic_rollback(self, name: str, alias: str, revision: int, reason: str) -> bool:
        """Roll the canary back for the gateway (audited as modelport itself), unless the rollout
        changed since ``revision`` was routed; whether it was rolled back now."""

        decided: list[bool] = []

        def apply(now: Rollout | None) -> Rollout | None:
            if now is None or now.revision != revision or now.state != "active" or not now.weight:
                return now  # changed meanwhile (by hand, or by another replica): leave it
            decided.append(True)
            return now.model_copy(update={"weight": 0.0, "state": "rolled back", "reason": reason})

        self.store.change(name, alias, apply, actor=AUTOMATIC, action="rollback", reason=reason)
        return bool(decided)

    # -- checks ---------------------------------------------------------------------------------

    def _managed(self, name: str, principal: Principal | None) -> ModuleRecord:
        module = self.catalog.module(name, principal)
        if principal is not None:
            policy.check_manage_rollout(principal, module)
        return module

    def _change(
        self,
        name: str,
        alias: str,
        apply: Change,
        principal: Principal | None,
        *,
        action: str,
        reason: str | None = None,
    ) -> Rollout | None:
        actor = principal.identity if principal is not None else None
        return self.store.change(name, alias, apply, actor=actor, action=action, reason=reason)

    def _check_version(self, name: str, version: str, field: str) -> None:
        check_version(version, field)
        try:
            record = self.catalog.registry.version(name, version)
        except NotFound:
            raise InvalidInput({field: [f"module '{name}' has no version '{version}'"]}) from None
        if record.yanked:
            raise Conflict(
                f"{field}: {name} {version} is yanked ({record.yanked_reason}): choose another "
                "version, or unyank it first"
            )
        if record.pipeline is not None:  # the gateway hands pipelines to their engine
            raise Conflict(
                f"'{name}' is a pipeline: roll out the modules of its steps (a step naming an "
                "alias under a rollout is split like any call)"
            )

    def _check_shadow(
        self, name: str, shadow: str | None, primary: str, canary: str | None
    ) -> None:
        if shadow is None:
            return
        self._check_version(name, shadow, "shadow")
        if shadow in (primary, canary):
            raise InvalidInput({"shadow": ["the shadow must differ from the primary and canary"]})


def _existing(rollout: Rollout | None, name: str, alias: str) -> Rollout:
    if rollout is None:
        raise NotFound(f"module '{name}' has no rollout on '{alias}'")
    return rollout
