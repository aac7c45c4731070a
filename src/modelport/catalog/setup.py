"""Assemble the catalog from Settings, and seed it with the bundled examples."""

from __future__ import annotations

from pathlib import Path

from modelport.catalog.files import load_metadata
from modelport.catalog.registry import Registry
from modelport.catalog.service import CatalogService
from modelport.db import connect
from modelport.errors import Conflict
from modelport.jobs.store import JobStore
from modelport.settings import Settings
from modelport.storage import ArtifactStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def build_catalog_service(settings: Settings) -> CatalogService:
    """The catalog on the job store's database, artifacts under ``catalog_artifacts_url``."""
    engine = connect(settings.store_url())
    return CatalogService(
        Registry(engine), ArtifactStore(settings.catalog_artifacts_root()), JobStore(engine)
    )


def seed_examples(service: CatalogService) -> list[str]:
    """Publish the bundled example models into an empty catalog; return what was published."""
    if service.registry.names():
        return []
    from modelport.examples.iris import IrisClassifier

    published = []
    try:
        service.registry.publish(
            IrisClassifier.model_name(),
            IrisClassifier.version,
            load_metadata(EXAMPLES / "iris.ai4-metadata.yml"),
            load_spec="modelport.examples.iris:IrisClassifier",
            package="modelport",
            published_by="modelport",
        )
        published.append(f"{IrisClassifier.model_name()} {IrisClassifier.version}")
    except Conflict:  # another process seeded it meanwhile
        pass
    return published
