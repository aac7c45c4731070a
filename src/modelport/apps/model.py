"""The app of a process that serves models itself: one builder for every program that does.

``modelport serve`` (with training and the catalog when asked), a catalog module's worker
process or Ray Serve replica (``apps/worker.py``), and a Ray Serve deployment made by
``modelport deploy`` (``deploy/ray_app.py``) all serve their models through the same app: the
DEEPaaS routes, the Open Inference Protocol, the documents, health and metrics, over one
:class:`~modelport.runtime.ModelRuntime` (``app.state.runtime``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from modelport.api import create_app
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modelport.catalog.service import CatalogService
    from modelport.contract.base import ServedModel
    from modelport.jobs.facility import Facility
    from modelport.jobs.service import JobService
    from modelport.settings import Settings


def model_app(
    settings: Settings,
    models: Sequence[ServedModel],
    *,
    jobs: JobService | Facility | None = None,
    catalog: CatalogService | None = None,
) -> FastAPI:
    """The app serving ``models`` (warmed by its lifespan unless they are already)."""
    runtime = ModelRuntime(models, settings, ServingMetrics())
    return create_app(settings, runtime, jobs, catalog)
