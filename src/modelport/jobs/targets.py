"""What a training request names, resolved to what a worker runs: model, load spec, version.

Two resolvers share one interface. :class:`ServedTargets` resolves the models a
``modelport serve`` process has loaded (it validates the arguments in-process);
the platform's catalog resolver (``gateway.targets``) validates them in the module's own worker
process, so the server never imports module code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from modelport.auth import policy
from modelport.catalog.domain import LATEST
from modelport.contract.base import RawArgs, not_implemented
from modelport.errors import ModelLoadError, NotImplementedByModel
from modelport.runtime import ModelRuntime

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.gateway.base import ModelServer


@dataclass(frozen=True)
class TrainingPlan:
    """A validated training: which model (by name and load spec), which version, its args."""

    model: str
    spec: str
    args: dict[str, Any]
    version: str | None = None
    model_dir: str | None = None
    #: the arguments as a legacy module's fields read them (the DEEPaaS training view)
    shown_args: dict[str, Any] | None = None


class TrainingTargets(Protocol):
    """Resolves and validates what a training request names."""

    async def prepare(
        self, name: str, ref: str | None, raw: RawArgs, principal: Principal
    ) -> TrainingPlan:
        """Validate ``raw`` for model ``name`` (at version/alias ``ref``); NotFound if unknown
        or hidden from ``principal``."""

    async def trainable(self, name: str, principal: Principal) -> bool:
        """Whether ``name`` can be trained; NotFound if unknown or hidden from ``principal``."""


class ServedTargets:
    """The models loaded in this process (``modelport serve``)."""

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime

    async def prepare(
        self, name: str, ref: str | None, raw: RawArgs, principal: Principal
    ) -> TrainingPlan:
        """Validate in-process with the loaded model (``ref`` is ignored: one version here)."""
        model = self.runtime.get(name).model
        if not model.trainable:
            raise NotImplementedByModel(not_implemented(model.name))
        if not model.spec:
            raise ModelLoadError(f"model '{model.name}' was not loaded by name: cannot train it")
        prepared = model.prepare_train(raw)
        return TrainingPlan(
            model=model.name, spec=model.spec, args=prepared.args, shown_args=prepared.shown
        )

    async def trainable(self, name: str, principal: Principal) -> bool:
        """Whether the loaded model has train()."""
        return self.runtime.get(name).model.trainable


class CatalogTargets:
    """Catalog modules (``modelport up``): validated by the module's worker process."""

    def __init__(self, pool: ModelServer) -> None:
        self.pool = pool

    async def _check_visible(self, name: str, principal: Principal) -> None:
        module = await asyncio.to_thread(self.pool.catalog.registry.module, name)
        policy.check_see_module(principal, module)

    async def prepare(
        self, name: str, ref: str | None, raw: RawArgs, principal: Principal
    ) -> TrainingPlan:
        """Validate in the module's worker; the plan names the exact version's load spec."""
        await self._check_visible(name, principal)
        record, prepared = await self.pool.prepare_train(name, ref or LATEST, raw)
        if not record.load_spec:
            raise ModelLoadError(f"module '{name}' {record.version} declares no model to load")
        model_dir = self.pool.settings.model_version_dir(name, record.version)
        return TrainingPlan(
            model=name,
            spec=record.load_spec,
            args=prepared.args,
            shown_args=prepared.shown,
            version=record.version,
            # fetched there by the worker that validated the arguments (same machine)
            model_dir=str(model_dir) if model_dir.is_dir() else None,
        )

    async def trainable(self, name: str, principal: Principal) -> bool:
        """Modules one may see may be trained (the worker answers 501 when one cannot)."""
        await self._check_visible(name, principal)
        return True
