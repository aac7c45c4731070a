"""What a training request names, resolved to what a worker runs: model, load spec, version.

The interface lives here; its two resolvers live beside what they adapt:
``runtime.targets.ServedTargets`` resolves the models a ``modelport serve`` process has loaded
(it validates the arguments in-process); ``gateway.targets.CatalogTargets`` resolves catalog
modules and validates them in the module's own worker process, so the server never imports
module code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.contract.base import RawArgs


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
