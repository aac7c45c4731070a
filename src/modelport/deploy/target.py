"""What is deployed: a module project directory, or an installed model by name or import path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

from modelport.catalog.sources import ENTRY_POINT_GROUPS, read_module
from modelport.contract import discovery
from modelport.errors import NotFound

#: Resources used when neither the options nor the module's metadata give them.
DEFAULT_CPU = 1.0
DEFAULT_MEMORY_MB = 2048


@dataclass(frozen=True)
class DeployTarget:
    """A model to deploy: its name, how the CLI names it, and where its code comes from.

    ``source_dir`` is a project to copy into an image; otherwise ``requirement`` is what pip
    installs (``dist==version``), when the model's distribution is known.
    """

    name: str
    spec: str
    version: str
    source_dir: Path | None = None
    requirement: str | None = None
    cpu: float | None = None
    memory_mb: int | None = None


def resolve_target(module: str) -> DeployTarget:
    """A module directory (read with its metadata), else an installed entry point or import path."""
    path = Path(module)
    if path.is_dir():
        return _from_directory(path)
    ref = discovery.resolve(module)
    if ref.group is not None:
        name, dist = ref.name, ref.distribution
    else:  # an import path: name the model after its class (or module), as Model does
        last = re.split(r"[:.]", module)[-1]
        name = re.sub(r"(?<!^)(?=[A-Z])", "-", last).lower()
        dist = _distribution_of(re.split(r"[:.]", module, maxsplit=1)[0])
    version = importlib_metadata.version(dist) if dist else "latest"
    requirement = None
    if dist:
        # the bundled examples need their extra (scikit-learn) in an image
        extra = "[examples]" if dist == "modelport" else ""
        requirement = f"{dist}{extra}=={version}"
    return DeployTarget(name=name, spec=module, version=version, requirement=requirement)


def _distribution_of(top: str) -> str | None:
    """The installed distribution providing the top-level package ``top``, if one is known."""
    found = importlib_metadata.packages_distributions().get(top)
    if found:
        return found[0]
    # editable installs list no top-level packages: ask the distributions' model entry points
    for group in ENTRY_POINT_GROUPS:
        for ep in importlib_metadata.entry_points(group=group):
            if ep.dist is not None and re.split(r"[:.]", ep.value, maxsplit=1)[0] == top:
                return ep.dist.name
    try:
        return importlib_metadata.distribution(top).name
    except importlib_metadata.PackageNotFoundError:
        return None


def _from_directory(path: Path) -> DeployTarget:
    source = read_module(path)
    if not source.entry_points:
        groups = " or ".join(ENTRY_POINT_GROUPS)
        raise NotFound(f"{path} declares no model entry point ({groups})")
    point = source.entry_points[0]
    inference = source.metadata.resources.inference if source.metadata.resources else None
    return DeployTarget(
        name=point.name,
        spec=point.name,
        version=source.version,
        source_dir=path.resolve(),
        cpu=float(inference.cpu) if inference and inference.cpu else None,
        memory_mb=inference.memory_MB if inference else None,
    )


def dns_label(name: str) -> str:
    """``name`` as a Kubernetes/DNS label: lowercase letters, digits and '-', at most 63."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "model"
