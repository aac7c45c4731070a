"""Render the module template shipped in ``modelport/scaffold/template`` into a new project.

Template files ending in ``.jinja`` are rendered (Jinja2, undefined values are errors) and lose
the suffix; other files are copied. In paths, ``__package__`` becomes the Python package name and
a leading ``dot-`` a dot (so the template's own ``.gitignore`` or ``.github`` never act on this
repository). The Dockerfile is the one ``modelport deploy docker`` writes; the LICENSE is the full
Apache-2.0 text, or an SPDX notice for another license.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, StrictUndefined, select_autoescape
from packaging.requirements import InvalidRequirement, Requirement

from modelport.catalog.license import normalize_license
from modelport.deploy.docker import dockerfile
from modelport.deploy.target import DeployTarget
from modelport.errors import Conflict, InvalidInput

_NAME: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SUFFIX: Final = ".jinja"
_PACKAGE_PLACEHOLDER: Final = "__package__"
_DOT_PREFIX: Final = "dot-"
_ENV: Final = Environment(
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=select_autoescape(enabled_extensions=("html", "xml"), default_for_string=False),
)


@dataclass(frozen=True)
class ProjectOptions:
    """What a new module project is called and says about itself."""

    name: str
    summary: str = ""
    author: str = ""
    license: str = "Apache-2.0"
    repo_url: str = ""
    modelport_requirement: str = "modelport"
    today: date = field(default_factory=date.today)

    @property
    def package(self) -> str:
        """The Python package: the name with ``_`` for ``-``."""
        return self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        """The model class: the name in CamelCase."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def title(self) -> str:
        """A human title: the name's words, the first capitalised."""
        return self.name.replace("-", " ").capitalize()

    def values(self) -> dict[str, Any]:
        """The template's variables."""
        requirement = Requirement(self.modelport_requirement)
        check = Requirement(str(requirement))
        check.extras = {*check.extras, "check"}
        return {
            "name": self.name,
            "package": self.package,
            "class_name": self.class_name,
            "title": self.title,
            "summary": self.summary or f"{self.title}: a modelport module.",
            "author": self.author or f"The {self.name} authors",
            "license": self.license,
            "repo_url": self.repo_url or f"https://github.com/your-org/{self.name}",
            "modelport_requirement": str(requirement),
            "modelport_check_requirement": str(check),
            "today": self.today.isoformat(),
            "year": self.today.year,
        }


def validate_options(options: ProjectOptions) -> ProjectOptions:
    """Check the name (lowercase words joined by '-', not a keyword) and normalise the license."""
    errors: dict[str, list[str]] = {}
    if not _NAME.match(options.name):
        errors["name"] = [
            f"'{options.name}' must be lowercase letters and digits, words joined by '-' "
            "(e.g. plant-classifier), starting with a letter"
        ]
    elif keyword.iskeyword(options.package) or options.package in {"modelport", "test", "tests"}:
        errors["name"] = [f"'{options.name}' would shadow a Python keyword or package"]
    try:
        Requirement(options.modelport_requirement)
    except InvalidRequirement as exc:
        errors["modelport"] = [f"not a requirement: {exc}"]
    try:
        spdx = normalize_license(options.license)
    except ValueError as exc:
        errors["license"] = [str(exc)]
        spdx = options.license
    if errors:
        raise InvalidInput(errors)
    return ProjectOptions(
        options.name,
        " ".join(options.summary.split()),
        options.author,
        spdx,
        options.repo_url,
        options.modelport_requirement,
        options.today,
    )


def template_root() -> Traversable:
    """The template directory shipped in the package."""
    return resources.files("modelport.scaffold").joinpath("template")


def _target_path(relative: list[str], package: str) -> Path:
    parts = []
    for original in relative:
        part = original.replace(_PACKAGE_PLACEHOLDER, package).removesuffix(_SUFFIX)
        if part.startswith(_DOT_PREFIX):
            part = "." + part.removeprefix(_DOT_PREFIX)
        parts.append(part)
    return Path(*parts)


def _walk(node: Traversable, prefix: list[str]) -> list[tuple[list[str], Traversable]]:
    found = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            found += _walk(child, [*prefix, child.name])
        else:
            found.append(([*prefix, child.name], child))
    return found


def license_text(options: ProjectOptions) -> str:
    """The LICENSE file: Apache-2.0's full text, else a notice naming the SPDX expression."""
    if options.license == "Apache-2.0":
        return resources.files("modelport.scaffold").joinpath("licenses/Apache-2.0.txt").read_text()
    author = options.author or f"The {options.name} authors"
    return (
        f"Copyright {options.today.year} {author}\n\n"
        f"SPDX-License-Identifier: {options.license}\n\n"
        f"Licensed under {options.license}; the full text is at "
        f"https://spdx.org/licenses/ (replace this notice with it).\n"
    )


def render_project(options: ProjectOptions, dest: Path) -> list[Path]:
    """Write a new module project into ``dest`` (which must be absent or empty)."""
    options = validate_options(options)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} already exists and is not empty")
    values = options.values()
    files: dict[Path, str] = {}
    for relative, node in _walk(template_root(), []):
        text = node.read_text(encoding="utf-8")
        if relative[-1].endswith(_SUFFIX):
            text = _ENV.from_string(text).render(**values)
        files[_target_path(relative, options.package)] = text
    target = DeployTarget(name=options.name, spec=options.name, version="0.1.0")
    files[Path("Dockerfile")] = dockerfile(target, copy_source=".", image=options.name)
    files[Path("LICENSE")] = license_text(options)
    written = []
    for relative_path, text in sorted(files.items()):
        path = dest / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
