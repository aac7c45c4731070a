"""The bundled examples on the platform: publish those the catalog lacks, say why any cannot be.

``modelport up`` calls :func:`provide_examples` on every start (not only into an empty catalog):
an example is missing when no module of its name exists, whatever its versions or owner, so an
existing module is never overwritten and no version is added to it. An example that cannot be
published here (its package is not installed, or fails to import) is reported with what to run.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelport.catalog.domain import NewVersion
from modelport.catalog.files import load_metadata
from modelport.catalog.metadata import ModuleMetadata
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import EXAMPLES, PILOTS, pilot_metadata_file
from modelport.contract.typed import Model
from modelport.errors import Conflict

#: How to install the pilots: they are workspace members of modelport's repository.
INSTALL_PILOTS = (
    "from a modelport checkout, run `uv run --extra examples modelport up` "
    "(or `pip install ./examples/<name>` for each)"
)
INSTALL_SCIKIT_LEARN = "pip install 'scikit-learn>=1.3'"


@dataclass
class ExamplesReport:
    """What :func:`provide_examples` did: published labels, and why any example is missing."""

    published: list[str] = field(default_factory=list)  # "iris 1.0.0"
    problems: list[str] = field(default_factory=list)  # one line each: why not, and how

    def lines(self) -> list[str]:
        """What to tell whoever started the platform."""
        said = [f"published the bundled examples: {', '.join(self.published)}"]
        return (said if self.published else []) + self.problems


@dataclass(frozen=True)
class _Example:
    model: type[Model]
    load_spec: str
    package: str
    metadata: ModuleMetadata


def provide_examples(
    service: CatalogService, pilots: Sequence[tuple[str, str]] = PILOTS
) -> ExamplesReport:
    """Publish iris and the installed ``pilots`` the catalog has no module of the name of."""
    report = ExamplesReport()
    present = set(service.registry.names())
    for example in [_iris(), *_pilots(pilots, report)]:
        name = example.model.model_name()
        if name in present:
            continue
        try:
            service.registry.add(
                NewVersion(
                    name,
                    example.model.version,
                    example.metadata,
                    load_spec=example.load_spec,
                    package=example.package,
                    published_by="modelport",
                )
            )
        except Conflict:  # another replica published it meanwhile
            continue
        report.published.append(f"{name} {example.model.version}")
    if importlib.util.find_spec("sklearn") is None:
        report.problems.append(
            "the iris example fits its classifier with scikit-learn on first use, and "
            f"scikit-learn is not installed: {INSTALL_SCIKIT_LEARN}"
        )
    return report


def _iris() -> _Example:
    from modelport.examples.iris import IrisClassifier

    metadata = load_metadata(EXAMPLES / "iris.ai4-metadata.yml")
    return _Example(IrisClassifier, "modelport.examples.iris:IrisClassifier", "modelport", metadata)


def _pilots(pilots: Sequence[tuple[str, str]], report: ExamplesReport) -> list[_Example]:
    """The ``pilots`` importable here; the others are reported in ``report``."""
    found: list[_Example] = []
    absent: list[str] = []
    for load_spec, package in pilots:
        module_name, _, attr = load_spec.partition(":")
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            absent.append(package)
            continue
        try:
            module = importlib.import_module(module_name)
            model = getattr(module, attr)
        except (ImportError, AttributeError) as exc:
            report.problems.append(
                f"the example {package} is installed but cannot be imported ({exc}); "
                f"reinstall it: {INSTALL_PILOTS}"
            )
            continue
        metadata = pilot_metadata_file(Path(module.__file__ or "").parent)
        if metadata is None:
            report.problems.append(
                f"the example {package} is installed without its ai4-metadata.yml; "
                f"reinstall it: {INSTALL_PILOTS}"
            )
            continue
        found.append(_Example(model, load_spec, package, load_metadata(metadata)))
    if absent:
        report.problems.append(
            f"the example modules {', '.join(absent)} are not installed, so they are not in "
            f"the catalog; to add them, {INSTALL_PILOTS}"
        )
    return found
