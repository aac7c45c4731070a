"""Assemble the catalog from Settings, and seed it with the bundled examples.

Seeding publishes iris (shipped in modelport) and the pilot modules of the repository's
``examples/`` (image classification with transfer learning, stream anomaly detection,
simulation post-processing) when their packages are installed, e.g. by
``uv sync --extra examples``. A pilot's ``ai4-metadata.yml`` is found inside its installed
package (wheels carry it there) or at the root of its project (editable installs).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Final

from modelport.catalog.domain import NewVersion
from modelport.catalog.files import load_metadata
from modelport.catalog.metadata import ModuleMetadata
from modelport.catalog.registry import Registry
from modelport.catalog.service import CatalogService
from modelport.contract.typed import Model
from modelport.db import connect
from modelport.errors import Conflict
from modelport.jobs.store import JobStore
from modelport.settings import Settings
from modelport.storage import ArtifactStore
from modelport.storage.backends import check_url

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
METADATA_FILE: Final = "ai4-metadata.yml"

#: The pilot modules: (load spec, distribution), published when the distribution is installed.
PILOTS: Final = (
    ("image_classifier.model:ImageClassifier", "image-classifier"),
    ("stream_anomaly.model:StreamAnomalyDetector", "stream-anomaly"),
    ("sim_postprocess.model:SimulationPostprocessor", "sim-postprocess"),
    ("tiny_detector.model:TinyDetector", "tiny-detector"),
)


def build_catalog_service(settings: Settings) -> CatalogService:
    """The catalog on the job store's database, artifacts under ``catalog_artifacts_url``."""
    engine = connect(settings.store_url(), settings.migrate, settings.migrate_timeout)
    root = check_url(settings.catalog_artifacts_root(), "catalog_artifacts_url")
    store = ArtifactStore(root, **settings.storage_options_for(root))
    jobs = JobStore(engine)
    return CatalogService(Registry(engine), store, jobs, storage_options=settings.storage_options)


def pilot_metadata_file(package_dir: Path) -> Path | None:
    """A pilot's metadata: in its installed package, else at its project root (src layout)."""
    for candidate in (package_dir, package_dir.parent.parent):
        if (candidate / METADATA_FILE).is_file():
            return candidate / METADATA_FILE
    return None


def installed_pilots() -> list[tuple[type[Model], str, str, ModuleMetadata]]:
    """The pilots that can be imported here: (class, load spec, distribution, metadata)."""
    found = []
    for load_spec, package in PILOTS:
        module_name, _, attr = load_spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # not installed: nothing to seed
        metadata = pilot_metadata_file(Path(module.__file__ or "").parent)
        if metadata is not None:
            found.append((getattr(module, attr), load_spec, package, load_metadata(metadata)))
    return found


def _publish(
    service: CatalogService,
    model: type[Model],
    metadata: ModuleMetadata,
    load_spec: str,
    package: str,
) -> str | None:
    try:
        service.registry.add(
            NewVersion(
                model.model_name(),
                model.version,
                metadata,
                load_spec=load_spec,
                package=package,
                published_by="modelport",
            )
        )
    except Conflict:  # another process seeded it meanwhile
        return None
    return f"{model.model_name()} {model.version}"


def seed_examples(service: CatalogService, *, pilots: bool = True) -> list[str]:
    """Publish the bundled examples (and installed pilots) into an empty catalog; what was."""
    if service.registry.names():
        return []
    from modelport.examples.iris import IrisClassifier

    iris = load_metadata(EXAMPLES / "iris.ai4-metadata.yml")
    models: list[tuple[type[Model], str, str, ModuleMetadata]] = [
        (IrisClassifier, "modelport.examples.iris:IrisClassifier", "modelport", iris)
    ]
    if pilots:
        models += installed_pilots()
    published = []
    for model, load_spec, package, metadata in models:
        label = _publish(service, model, metadata, load_spec, package)
        if label is not None:
            published.append(label)
    return published
