"""The compute a deployment asks for: CPU, memory, GPUs, replicas."""

from __future__ import annotations

from dataclasses import dataclass

from modelport.deploy.target import DEFAULT_CPU, DEFAULT_MEMORY_MB, DeployTarget


@dataclass(frozen=True)
class Resources:
    """CPU cores, memory in MB and GPUs per replica (or per training), and serving replicas."""

    cpu: float = DEFAULT_CPU
    memory_mb: int = DEFAULT_MEMORY_MB
    gpus: int = 0
    replicas: int = 1

    @classmethod
    def for_target(
        cls,
        target: DeployTarget,
        cpu: float | None = None,
        memory_mb: int | None = None,
        gpus: int = 0,
        replicas: int = 1,
    ) -> Resources:
        """The options given, else the module's ``resources.inference``, else the defaults."""
        return cls(
            cpu=cpu or target.cpu or DEFAULT_CPU,
            memory_mb=memory_mb or target.memory_mb or DEFAULT_MEMORY_MB,
            gpus=gpus,
            replicas=replicas,
        )

    @property
    def kubernetes_cpu(self) -> str:
        """CPU as Kubernetes writes it (``500m``, ``2``)."""
        return str(int(self.cpu)) if self.cpu == int(self.cpu) else f"{round(self.cpu * 1000)}m"
