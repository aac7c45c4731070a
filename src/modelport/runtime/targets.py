"""Training targets of a ``modelport serve`` process: the models it has loaded (validated
in-process), behind ``jobs.targets.TrainingTargets``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.contract.base import RawArgs, not_implemented
from modelport.errors import ModelLoadError, NotImplementedByModel
from modelport.jobs.targets import TrainingPlan
from modelport.runtime.runner import ModelRuntime

if TYPE_CHECKING:
    from modelport.auth.config import Principal


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
