"""Finding models: entry points (``modelport.models``, ``deepaas.v2.model``) and import paths."""

from __future__ import annotations

import importlib
import inspect
import os
import re
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from modelport.contract.base import ServedModel
from modelport.contract.deepaas import DeepaasModel
from modelport.contract.typed import Model, TypedModel, artifacts_of, bind_artifacts
from modelport.errors import ModelLoadError, NotFound

TYPED_GROUP = "modelport.models"
DEEPAAS_GROUP = "deepaas.v2.model"
DEEPAAS_ENV = "DEEPAAS_V2_MODEL"
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


@dataclass(frozen=True)
class ModelRef:
    """A model that can be loaded: its name, how to find it, and where it was found."""

    name: str
    target: str
    group: str | None = None
    distribution: str | None = None

    @property
    def kind(self) -> str:
        """``typed``, ``deepaas`` or ``import`` (an import path, kind known after loading)."""
        return {TYPED_GROUP: "typed", DEEPAAS_GROUP: "deepaas"}.get(self.group or "", "import")


def _ref(ep: EntryPoint) -> ModelRef:
    dist = ep.dist.name if ep.dist is not None else None
    return ModelRef(ep.name, ep.value, ep.group, dist)


def discover() -> list[ModelRef]:
    """Every model registered through entry points, typed ones first, sorted by name."""
    refs: dict[str, ModelRef] = {}
    for group in (DEEPAAS_GROUP, TYPED_GROUP):  # typed wins a name clash
        for ep in entry_points(group=group):
            refs[ep.name] = _ref(ep)
    return sorted(refs.values(), key=lambda r: r.name)


def resolve(spec: str) -> ModelRef:
    """Find a model by entry-point name, or accept a ``package.module[:attr]`` import path."""
    for group in (TYPED_GROUP, DEEPAAS_GROUP):
        found = entry_points(group=group, name=spec)
        for ep in found:
            return _ref(ep)
    if _IMPORT_PATH.match(spec) and ("." in spec or ":" in spec):
        return ModelRef(name="", target=spec)
    known = ", ".join(r.name for r in discover()) or "none installed"
    raise NotFound(
        f"no model named '{spec}' (entry points {TYPED_GROUP}, {DEEPAAS_GROUP}: {known}); "
        "give an installed model's name or an import path like package.module:Class"
    )


def default_specs() -> list[str]:
    """What to serve when no model is named: ``$DEEPAAS_V2_MODEL``, else every discovered one."""
    env = os.environ.get(DEEPAAS_ENV, "").strip()
    if env:
        return [s.strip() for s in env.split(",") if s.strip()]
    return [r.name for r in discover()]


def _import(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def _single_model_class(module: ModuleType) -> type[Model] | None:
    classes = [
        v
        for v in vars(module).values()
        if inspect.isclass(v)
        and issubclass(v, Model)
        and v is not Model
        and v.__module__ == module.__name__
    ]
    return classes[0] if len(classes) == 1 else None


def adapt(obj: Any, name: str, source: str, artifacts: Path | None = None) -> ServedModel:
    """Wrap a loaded object in the adapter for its contract; a typed model finds its catalog
    artifacts in ``artifacts`` (default: ``$MODELPORT_MODEL_DIR``)."""
    if inspect.isclass(obj) and issubclass(obj, Model):
        with artifacts_of(artifacts):
            obj = obj()
    if isinstance(obj, Model):
        bind_artifacts(obj, artifacts)
        served: ServedModel = TypedModel(obj, source)
        if name and name != served.name:
            served.name = name
        return served
    if isinstance(obj, ModuleType) and not hasattr(obj, "predict"):
        cls = _single_model_class(obj)
        if cls is not None:
            return adapt(cls, name, source, artifacts)
    if inspect.isclass(obj):
        obj = obj()  # a DEEPaaS BaseModel subclass: the docs promise an instance
    if hasattr(obj, "predict") or hasattr(obj, "get_metadata"):
        return DeepaasModel(obj, name or _legacy_name(obj), source)
    raise ModelLoadError(
        f"{source}: {type(obj).__name__} is neither a modelport Model nor a DEEPaaS v2 module "
        "(no predict())"
    )


def _legacy_name(obj: Any) -> str:
    module = getattr(obj, "__name__", None) or type(obj).__module__
    return str(module).split(".")[0]


def load(spec: str, *, artifacts: Path | None = None) -> ServedModel:
    """Load and adapt the model named by ``spec``; failures name the model and the cause.

    ``artifacts``: the directory of a catalog version's artifacts, for ``Model.artifact()``.
    """
    ref = resolve(spec)
    source = f"{ref.group} entry point '{ref.name}' = {ref.target}" if ref.group else ref.target
    try:
        obj = _import(ref.target)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot import model '{spec}' ({source}): {type(exc).__name__}: {exc}"
        ) from exc
    try:
        served = adapt(obj, ref.name, source, artifacts)
        served.spec = spec
        return served
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load model '{spec}' ({source}): {type(exc).__name__}: {exc}"
        ) from exc
