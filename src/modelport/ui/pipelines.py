"""The pipeline composer's page: ``{base}/dashboard/pipelines/new``.

The page is a form of steps that ``static/compose.js`` drives over the JSON API: each step's
interface from ``GET /pipelines/interfaces/{module}``, then ``POST /pipelines/check``,
``/pipelines/try`` and ``/pipelines`` (publish). The modules a step may call (models, not
pipelines) are listed here, from the catalog, for the viewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import Response

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.catalog.service import CatalogService
    from modelport.ui.router import Renderer


def step_modules(catalog: CatalogService, viewer: Principal) -> list[str]:
    """The modules ``viewer`` sees that a step may call: those with a latest version that are
    not pipelines (a pipeline cannot be a step), sorted."""
    pipelines = catalog.pipeline_names()
    return [n for n in catalog.names(viewer, with_latest=True) if n not in pipelines]


def pipeline_pages(router: APIRouter, render: Renderer, catalog: CatalogService) -> None:
    """The composer page."""
    from modelport.ui.router import require_viewer  # the router module includes this one

    @router.get("/pipelines/new")
    @router.get("/pipelines")
    def compose_page(request: Request) -> Response:
        viewer = require_viewer(request)
        return render.page(request, "compose.html", modules=step_modules(catalog, viewer))
