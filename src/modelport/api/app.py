"""The ASGI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI

from modelport import __version__
from modelport.api.auth import install_auth
from modelport.api.docs import (
    catalog_model_names,
    docs_router,
    install_openapi,
    served_model_names,
)
from modelport.api.errors import install_error_handlers
from modelport.api.headers import SecurityHeaders
from modelport.api.landing import BrowserLanding
from modelport.api.local_guard import install_local_guard
from modelport.api.models import add_predict_routes, model_router
from modelport.api.oip import health_router, oip_router
from modelport.api.operations import operations_router
from modelport.api.uploads import UploadStore, default_memory_dir
from modelport.jobs.facility import Facility
from modelport.runtime import ModelRuntime
from modelport.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from modelport.catalog.service import CatalogService
    from modelport.gateway.base import ModelServer
    from modelport.jobs.service import JobService
    from modelport.rollouts.router import RolloutRouter


def create_app(
    settings: Settings,
    runtime: ModelRuntime,
    jobs: JobService | Facility | None = None,
    catalog: CatalogService | None = None,
    *,
    pool: ModelServer | None = None,
    auth_engine: Engine | None = None,
    rollouts: RolloutRouter | None = None,
) -> FastAPI:
    """The HTTP API serving ``runtime``'s models as configured by ``settings``.

    Models not yet warm are warmed (off the event loop) during startup, unless
    ``settings.warm`` is false; ``/health/ready`` answers 503 until then. With ``jobs``, the
    training routes are served and the job service runs (recovery, scheduling) while the app does
    (a deferred :class:`~modelport.jobs.facility.Facility` is built once the app runs);
    with ``catalog``, the Open Catalog routes (``/catalog/...``, AI4OS ``/v1/catalog/...``).
    With ``settings.auth = "oidc"`` every route but the open ones needs credentials (see
    ``api/auth.py``); API tokens and sessions live in ``auth_engine`` (default: the store URL's).
    With ``pool`` (the platform, ``modelport up``), the model routes serve every ``catalog``
    module on demand through it instead of ``runtime``'s models, training included, and
    predictions to an alias under a rollout go through ``rollouts`` (default: one over ``pool``;
    see ``modelport.rollouts``).
    """
    if pool is not None and catalog is None:
        raise ValueError("serving catalog modules on demand needs the catalog")
    if pool is not None and catalog is not None and rollouts is None:
        from modelport.rollouts.setup import build_rollout_router

        rollouts = build_rollout_router(pool, catalog)
    facility = jobs if isinstance(jobs, Facility) or jobs is None else Facility.ready(jobs)

    memory_dir = settings.upload_memory_dir or default_memory_dir()
    uploads = UploadStore(str(memory_dir) if memory_dir else None, settings.upload_memory_limit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warm:
            await anyio.to_thread.run_sync(runtime.warm_all)
        else:
            runtime.mark_ready()
        if facility is not None:
            await anyio.to_thread.run_sync(facility.begin)
        # Everything alive now (framework, models, schemas) lives as long as the server: move
        # it out of the collector's generations, so full collections stay short (tail latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if facility is not None:
                await anyio.to_thread.run_sync(facility.stop)
            if rollouts is not None:
                await rollouts.close()
            if pool is not None:
                await pool.close()
            runtime.close()
            uploads.close()
            if close_auth is not None:
                close_auth()

    app = FastAPI(
        title="modelport",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app, settings.debug)
    # a browser at / lands on the dashboard; API clients keep DEEPaaS's version document
    app.add_middleware(BrowserLanding, base_path=settings.base_path)
    close_auth = install_auth(app, settings, auth_engine)
    install_local_guard(app, settings)  # auth off: no DNS rebinding, no cross-site writes
    # added last, so outermost: every answer, auth refusals included, gets the security headers
    app.add_middleware(SecurityHeaders, dashboard_prefix=f"{settings.base_path}/dashboard")
    _include_area_routes(
        app,
        settings,
        runtime,
        jobs=facility,
        catalog=catalog,
        pool=pool,
        uploads=uploads,
        rollouts=rollouts,
    )
    app.include_router(operations_router(runtime, settings))
    # Swagger UI offers each model's own document: every catalog module's on the platform
    names = served_model_names(runtime)
    if pool is not None and catalog is not None:
        names = catalog_model_names(catalog)
    app.include_router(docs_router(app, settings, names))
    install_openapi(app, runtime, settings)
    app.state.runtime = runtime
    app.state.settings = settings
    return app


def _include_area_routes(
    app: FastAPI,
    settings: Settings,
    runtime: ModelRuntime,
    *,
    jobs: Facility | None,
    catalog: CatalogService | None,
    pool: ModelServer | None,
    uploads: UploadStore,
    rollouts: RolloutRouter | None = None,
) -> None:
    """Models (served here, or catalog modules on demand), training and jobs, the catalog."""
    app.include_router(model_router(runtime, settings, models=pool is None))
    app.include_router(health_router(runtime, settings))
    if pool is None:
        add_predict_routes(app, runtime, settings, uploads)
        app.include_router(oip_router(runtime, settings))
    else:
        from starlette.middleware import Middleware

        from modelport.api.gateway import PredictFastPath, authorize_call, gateway_router
        from modelport.api.pipelines import PipelineCalls, pipelines_router
        from modelport.pipelines.service import PipelineService

        assert catalog is not None  # checked by create_app
        pipelines = PipelineService(pool, catalog, rollouts)
        calls = PipelineCalls(pipelines, settings)
        gateway = gateway_router(
            pool, catalog, settings, authorize_call, rollouts=rollouts, pipelines=calls
        )
        app.include_router(gateway)
        app.include_router(pipelines_router(pipelines, settings))
        # innermost middleware: behind authentication, before the router (see PredictFastPath)
        fast_path = Middleware(
            PredictFastPath,
            pool=pool,
            settings=settings,
            authorize=authorize_call,
            rollouts=rollouts,
            pipelines=calls,
        )
        app.user_middleware.append(fast_path)
    if jobs is not None:
        # imported here: serving models that cannot train never loads the job stack
        from modelport.api.jobs import jobs_router
        from modelport.api.training import training_router
        from modelport.gateway.targets import CatalogTargets
        from modelport.jobs.targets import TrainingTargets
        from modelport.runtime.targets import ServedTargets

        targets: TrainingTargets = ServedTargets(runtime) if pool is None else CatalogTargets(pool)
        notebooks = None
        if pool is not None and catalog is not None and not jobs.is_deferred:
            from modelport.api.notebooks import notebooks_router
            from modelport.notebooks.service import NotebookService

            notebooks = NotebookService(jobs.get(), catalog, settings)  # the platform's
            app.include_router(notebooks_router(notebooks, settings))
        app.include_router(training_router(targets, jobs, settings, uploads))
        app.include_router(jobs_router(targets, jobs, settings, notebooks))
        user_data = None if jobs.is_deferred else jobs.get().user_data
        if user_data is not None:  # the platform: each user's data area
            from modelport.api.data import data_router

            app.include_router(data_router(user_data, settings, uploads))
    elif pool is None:
        from modelport.api.untrained import untrained_router

        app.include_router(untrained_router(runtime, settings))
    if catalog is not None:
        from modelport.api.catalog import catalog_router
        from modelport.api.rollouts import rollouts_router
        from modelport.rollouts.service import RolloutService

        app.include_router(catalog_router(catalog, settings))
        service = rollouts.service if rollouts is not None else RolloutService(catalog)
        app.include_router(rollouts_router(service, settings, rollouts))
