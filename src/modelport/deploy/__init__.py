"""Deployment artifacts for a model: Docker, Kubernetes, Ray Serve, Slurm."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from modelport.deploy.docker import write_docker
from modelport.deploy.kubernetes import write_kubernetes
from modelport.deploy.ray_serve import write_ray
from modelport.deploy.resources import Resources
from modelport.deploy.slurm import write_slurm
from modelport.deploy.target import DeployTarget, resolve_target


class Platform(StrEnum):
    """Where a model is deployed."""

    DOCKER = "docker"
    KUBERNETES = "kubernetes"
    RAY = "ray"
    SLURM = "slurm"


@dataclass(frozen=True)
class DeployOptions:
    """Everything the writers may use; each takes what applies to it."""

    image: str | None = None
    cpu: float | None = None
    memory_mb: int | None = None
    gpus: int = 0
    replicas: int = 1
    train: bool = True
    train_args: list[str] = field(default_factory=list)
    artifacts_url: str | None = None
    time_limit: str = "01:00:00"
    partition: str | None = None


def write_artifacts(
    platform: Platform, module: str, output: Path, options: DeployOptions | None = None
) -> list[Path]:
    """Resolve ``module`` and write the ``platform``'s artifacts into ``output``."""
    options = options or DeployOptions()
    target = resolve_target(module)
    resources = Resources.for_target(
        target, options.cpu, options.memory_mb, options.gpus, options.replicas
    )
    if platform is Platform.DOCKER:
        return write_docker(target, output, options.image)
    if platform is Platform.KUBERNETES:
        return write_kubernetes(
            target,
            output,
            image=options.image,
            resources=resources,
            train=options.train,
            train_args=options.train_args,
            artifacts_url=options.artifacts_url,
        )
    if platform is Platform.RAY:
        return write_ray(target, output, resources)
    return write_slurm(
        target,
        output,
        resources,
        time_limit=options.time_limit,
        partition=options.partition,
        artifacts_url=options.artifacts_url,
    )


__all__ = [
    "DeployOptions",
    "DeployTarget",
    "Platform",
    "Resources",
    "resolve_target",
    "write_artifacts",
]
