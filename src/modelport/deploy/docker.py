"""``modelport deploy docker``: a Dockerfile and its build context.

A module directory is copied into the context (``module/``, without VCS, environments, caches
and build output) and pip-installed in the image; an installed model is pip-installed by its
distribution and version. The image serves the model on port 5000 with a health check on
``/health/ready``; ``--build-arg VARIANT=gpu`` builds on a CUDA runtime image instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

from modelport.deploy.render import render
from modelport.deploy.target import DeployTarget
from modelport.errors import InvalidInput

#: What never goes into an image's build context.
IGNORED: Final = (
    ".git",
    ".github",
    ".venv",
    "venv",
    "__pycache__",
    "*.py[cod]",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".tox",
)


def dockerfile(
    target: DeployTarget, *, copy_source: str | None = None, image: str | None = None
) -> str:
    """The Dockerfile text: copy ``copy_source`` from the context, else pip-install the model."""
    if copy_source is None and target.requirement is None:
        raise InvalidInput(
            {
                "module": [
                    f"cannot tell which distribution provides '{target.spec}'; "
                    "give the module's project directory instead"
                ]
            }
        )
    return render(
        "Dockerfile.jinja",
        name=target.name,
        spec=target.spec,
        image=image or f"{target.name}:{target.version}",
        copy_source=copy_source,
        requirement=target.requirement,
    )


def dockerignore() -> str:
    """The .dockerignore of a build context."""
    return "\n".join(line if "/" in line else f"**/{line}" for line in IGNORED) + "\n"


def write_docker(target: DeployTarget, output: Path, image: str | None = None) -> list[Path]:
    """Write the Dockerfile, .dockerignore and (for a module directory) the module's copy."""
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    copy_source = None
    if target.source_dir is not None:
        module_dir = output / "module"
        if module_dir.exists():
            shutil.rmtree(module_dir)
        shutil.copytree(
            target.source_dir, module_dir, ignore=shutil.ignore_patterns(*IGNORED, "deploy")
        )
        copy_source = "module/"
        written.append(module_dir)
    for name, text in (
        ("Dockerfile", dockerfile(target, copy_source=copy_source, image=image)),
        (".dockerignore", dockerignore()),
    ):
        (output / name).write_text(text, encoding="utf-8")
        written.append(output / name)
    return written
