"""The platform (``modelport up``): catalog, training, every catalog module on demand, sign-in,
dashboard — one app, assembled from ``Settings``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry

    from modelport.catalog.bundled import ExamplesReport
    from modelport.catalog.service import CatalogService
    from modelport.gateway.base import ModelServer


def build_model_server(
    settings: Settings, catalog: CatalogService, registry: CollectorRegistry | None = None
) -> ModelServer:
    """Worker processes (default) or Ray Serve deployments, as ``serving_backend`` says.

    Its metrics (cold starts, loaded models, unloads) join ``registry`` (the app's /metrics).
    """
    from modelport.gateway.metrics import GatewayMetrics

    metrics = GatewayMetrics(registry)
    if settings.serving_backend == "ray":
        from modelport.apps.worker import start_app
        from modelport.gateway.ray_serve import RayServePool

        return RayServePool(settings, catalog, metrics, start=start_app)
    from modelport.gateway.pool import ModelPool
    from modelport.sandbox import choose_sandbox

    sandbox = choose_sandbox(settings.sandbox, forbidden=(settings.data_dir,))
    return ModelPool(settings, catalog, metrics, sandbox=sandbox)


def build_platform(settings: Settings, *, seed: bool = True) -> tuple[FastAPI, list[str]]:
    """The platform's app and the bundled examples it published (those the catalog lacked)."""
    app, examples = assemble_platform(settings, seed=seed)
    return app, examples.published


def assemble_platform(settings: Settings, *, seed: bool = True) -> tuple[FastAPI, ExamplesReport]:
    """The platform's app, and what providing the bundled examples did (nothing without ``seed``).

    Every start publishes the bundled examples the catalog has no module of the name of, and
    reports those that cannot be published here, with what to run. First it makes sure the
    catalog's artifact store is the one the database knows (``storage.identity``): replicas
    sharing a database must share ``catalog_artifacts_url``, and one that does not refuses to
    start (StoreError) instead of failing every cold start later.
    """
    from modelport.api import create_app
    from modelport.catalog.bundled import ExamplesReport, provide_examples
    from modelport.catalog.setup import build_catalog_service
    from modelport.jobs.setup import build_job_service
    from modelport.rollouts.setup import build_rollout_router
    from modelport.runtime import ModelRuntime
    from modelport.runtime.metrics import ServingMetrics
    from modelport.storage.identity import check_store_identity
    from modelport.ui import ui_router

    catalog = build_catalog_service(settings)
    try:
        root = settings.catalog_artifacts_root()
        check_store_identity(catalog.engine, root, settings.storage_options_for(root))
    except BaseException:
        catalog.engine.dispose()
        raise
    examples = provide_examples(catalog) if seed else ExamplesReport()
    jobs = build_job_service(settings, confined=True)
    runtime = ModelRuntime([], settings, ServingMetrics())
    pool = build_model_server(settings, catalog, runtime.metrics.registry)
    rollouts = build_rollout_router(pool, catalog)  # the gateway's and the dashboard's
    app = create_app(
        settings, runtime, jobs, catalog, pool=pool, auth_engine=catalog.engine, rollouts=rollouts
    )
    app.include_router(ui_router(settings, catalog, jobs, rollouts))
    return app, examples
