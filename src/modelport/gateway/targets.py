"""Training targets of the platform: catalog modules, validated by each module's own worker
process (the server never imports module code), behind ``jobs.targets.TrainingTargets``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from modelport.auth import policy
from modelport.catalog.domain import LATEST
from modelport.contract.base import RawArgs
from modelport.errors import ModelLoadError, NotImplementedByModel
from modelport.jobs.targets import TrainingPlan

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.gateway.base import ModelServer


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
        if (await self.pool.resolve(name, ref or LATEST)).pipeline is not None:
            raise NotImplementedByModel(f"'{name}' is a pipeline: train the modules of its steps")
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
        """Modules one may see may be trained (the worker answers 501 when one cannot);
        pipelines may not."""
        await self._check_visible(name, principal)
        return (await self.pool.resolve(name, LATEST)).pipeline is None
