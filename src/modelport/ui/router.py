"""The dashboard's routes under ``{base_path}/dashboard``: thin edges that read and render.

Pages are rendered on the server (Jinja2); htmx swaps search results and job lists in place, and
small scripts of our own build the try-it and training forms from each model's OpenAPI document
(``/v2/models/{name}/openapi.json``) and follow jobs through their event stream, so the pages
work the same wherever the model runs. Every asset is served from the package.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import FileResponse, HTMLResponse, Response

from modelport import __version__
from modelport.api.auth import current_principal
from modelport.api.errors import public_message, status_of
from modelport.api.landing import DASHBOARD_ROUTE
from modelport.auth import policy
from modelport.auth.config import Principal, split_identity
from modelport.errors import ModelportError, NotFound, Unauthorized
from modelport.ui import pages
from modelport.ui.markdown import render_markdown
from modelport.ui.pipelines import pipeline_pages
from modelport.ui.rollouts import change_summary, rollout_views

if TYPE_CHECKING:
    from modelport.catalog.domain import ModuleRecord
    from modelport.catalog.service import CatalogService
    from modelport.jobs.service import JobService
    from modelport.rollouts.router import RolloutRouter
    from modelport.settings import Settings

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
JOBS_PAGE_SIZE = 25
ERROR_HINTS = {
    401: "Sign in to see this page.",
    403: "Your account is not allowed to do this; ask an administrator for the role it needs.",
    404: "Check the address, or find what you are looking for in the catalog.",
    409: "The object changed meanwhile; reload the page.",
    503: "The server is busy or a backend is unavailable; try again in a moment.",
}
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def templates() -> Environment:
    """The dashboard's Jinja2 environment (HTML autoescaped)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    env.tests["web_url"] = is_web_url
    env.filters["short_id"] = lambda value: str(value)[:8]
    env.filters["person"] = lambda identity: split_identity(str(identity))[1]  # not the issuer
    env.globals["change_summary"] = change_summary
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"
    env.filters["uptime"] = pages.uptime
    return env


def is_web_url(value: object) -> bool:
    """Whether ``value`` is an http(s) URL (metadata links are shown only then)."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


class Renderer:
    """Renders pages with what every page needs (paths, the signed-in user)."""

    def __init__(self, settings: Settings, training: bool) -> None:
        self.settings = settings
        self.env = templates()
        base = settings.base_path
        self.common = {
            "base": base,
            "ui": f"{base}/dashboard",
            "static": f"{base}/dashboard/static",
            "asset_version": __version__,
            "auth_on": settings.auth != "off",
            "training": training,
            "docs_on": settings.docs,  # Swagger UI at {base}/api
        }

    def page(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """One template rendered as an HTML response."""
        viewer = getattr(request.state, "principal", None)
        html = self.env.get_template(name).render(
            **self.common,
            request=request,
            path=request.url.path,
            viewer=viewer if isinstance(viewer, Principal) else None,
            sign_in=f"{self.settings.base_path}/auth/login?next={quote(request.url.path)}",
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def error(self, request: Request, status_code: int, message: str) -> HTMLResponse:
        """The error page: what happened and what to do about it."""
        return self.page(
            request,
            "error.html",
            status_code=status_code,
            code=status_code,
            message=message,
            hint=ERROR_HINTS.get(status_code, "Try again, or go back to the catalog."),
        )

    def server_url(self, request: Request) -> str:
        """The URL clients reach the API at (for snippets)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}{self.settings.base_path}"


def page_route_class(renderer: Renderer) -> type[APIRoute]:
    """A route class rendering modelport errors as the error page instead of JSON."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    await signed_in(request)
                    return await handler(request)
                except ModelportError as exc:
                    status = status_of(exc)
                    shown = public_message(exc) if status >= 500 else exc.message
                    return renderer.error(request, status, shown)

            return handle

    return PageRoute


async def signed_in(request: Request) -> Principal | None:
    """The signed-in user, or None (pages readable without signing in stay readable)."""
    try:
        return await current_principal(request)
    except Unauthorized:
        return None


def require_viewer(request: Request) -> Principal:
    """The signed-in user (the local admin when auth is off); Unauthorized otherwise.

    Every page but the assets and the error page needs one: with authentication on, a
    signed-out visitor gets the error page with its sign-in button.
    """
    viewer = getattr(request.state, "principal", None)
    if not isinstance(viewer, Principal):
        raise Unauthorized("you are not signed in")
    return viewer


def ui_router(
    settings: Settings,
    catalog: CatalogService,
    jobs: JobService | None = None,
    rollouts: RolloutRouter | None = None,
) -> APIRouter:
    """The dashboard's pages under ``{base_path}/dashboard`` (include it in the app); with
    ``rollouts`` (the gateway's), module pages show and manage the rollouts of their aliases."""
    render = Renderer(settings, training=jobs is not None)
    router = APIRouter(
        prefix=f"{settings.base_path}/dashboard",
        route_class=page_route_class(render),
        include_in_schema=False,
    )

    @router.get("/static/{asset:path}")
    def static(asset: str) -> Response:
        path = (STATIC_DIR / asset).resolve()
        if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
            raise NotFound(f"no such asset: {asset}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    catalog_pages(router, render, catalog, rollouts)
    job_pages(router, render, catalog, jobs)
    pipeline_pages(router, render, catalog)

    @router.get("/tokens")
    def tokens_page(request: Request) -> Response:
        current = None
        if settings.auth != "off":
            current = require_viewer(request).token_id  # this browser's session, when signed in
        return render.page(request, "tokens.html", current_token=current)

    @router.get("/{rest:path}")
    def unknown(rest: str) -> Response:
        raise NotFound(f"no dashboard page at /dashboard/{rest}")

    return router


def catalog_pages(
    router: APIRouter,
    render: Renderer,
    catalog: CatalogService,
    rollouts: RolloutRouter | None = None,
) -> None:
    """The catalog, module, version, try-it and train pages."""

    @router.get("")
    @router.get("/", name=DASHBOARD_ROUTE)  # where a browser at / lands (api/landing.py)
    def catalog_page(request: Request) -> Response:
        viewer = require_viewer(request)
        query = pages.SearchQuery.parse(_multi(request))
        found = catalog.search(
            query.q, viewer, filters=query.filters, limit=pages.PAGE_SIZE, offset=query.offset
        )
        name = "_results.html" if request.headers.get("hx-request") else "catalog.html"
        return render.page(
            request,
            name,
            query=query,
            found=found,
            facets=pages.facet_sections(found, query),
            pager=pages.pager(found, query),
        )

    @router.get("/modules/{name}")
    def module_page(request: Request, name: str) -> Response:
        return _module(request, name, None)

    @router.get("/modules/{name}/versions/{ref}")
    def version_page(request: Request, name: str, ref: str) -> Response:
        return _module(request, name, ref)

    def _module(request: Request, name: str, ref: str | None) -> Response:
        viewer = require_viewer(request)
        module = catalog.module(name, viewer)
        manage = can_manage(viewer, module)
        # its owner sees yanked versions (with their reasons), to unyank them
        versions = catalog.versions(name, viewer, include_yanked=manage)
        if ref is None and module.latest_version is None and versions:
            ref = versions[0].version  # every version yanked: the page shows the highest
        record = catalog.version(name, ref or "latest", viewer)
        server = render.server_url(request)
        return render.page(
            request,
            "module.html",
            module=module,
            record=record,
            meta=record.metadata,
            pinned=ref is not None,
            versions=versions,
            manage=manage,
            resources=pages.resource_rows(record.metadata),
            pipeline=pages.pipeline_view(record.pipeline),
            citation=pages.citation(record, f"{server}/dashboard/modules/{name}"),
            rollouts=rollout_views(rollouts.service if rollouts else None, rollouts, name, viewer),
            **snippets(server, name),
        )

    @router.get("/modules/{name}/try")
    def try_page(request: Request, name: str) -> Response:
        viewer = require_viewer(request)
        module = catalog.module(name, viewer)
        version = request.query_params.get("version")
        record = catalog.version(name, version or "latest", viewer)
        server = render.server_url(request)
        return render.page(
            request,
            "try.html",
            module=module,
            record=record,
            pinned=version,
            **snippets(server, name),
        )

    @router.get("/modules/{name}/train")
    def train_page(request: Request, name: str) -> Response:
        viewer = require_viewer(request)
        module = catalog.module(name, viewer)
        version = request.query_params.get("version")
        record = catalog.version(name, version or "latest", viewer)
        defaults = (record.metadata.get("resources") or {}).get("training") or {}
        return render.page(
            request, "train.html", module=module, record=record, defaults=defaults, pinned=version
        )


def job_pages(
    router: APIRouter, render: Renderer, catalog: CatalogService, jobs: JobService | None
) -> None:
    """The job list and job pages."""
    settings = render.settings

    @router.get("/jobs")
    def jobs_page(request: Request) -> Response:
        viewer = require_viewer(request)
        raw_page = request.query_params.get("page", "1")
        number = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
        found = None
        if jobs is not None:
            owner = None if settings.auth == "off" else viewer.identity  # *my* jobs
            found = jobs.list_jobs(
                owner=owner, limit=JOBS_PAGE_SIZE, offset=(number - 1) * JOBS_PAGE_SIZE
            )
        name = "_jobs_table.html" if request.headers.get("hx-request") else "jobs.html"
        pages_total = max(1, -(-found.total // JOBS_PAGE_SIZE)) if found else 1
        return render.page(request, name, found=found, page=number, pages=pages_total)

    @router.get("/data")
    def data_page(request: Request) -> Response:
        require_viewer(request)
        if jobs is None or jobs.user_data is None:
            raise NotFound("this server keeps no data of its users (no training facility)")
        return render.page(request, "data.html")

    @router.get("/jobs/{job_id}")
    def job_page(request: Request, job_id: str) -> Response:
        viewer = require_viewer(request)
        if jobs is None:
            raise NotFound("training is not enabled on this server")
        job = jobs.get(job_id)
        if not policy.can_see_job(viewer, job):
            raise NotFound(f"job '{job_id}' not found")
        try:
            module: ModuleRecord | None = catalog.module(job.model, viewer)
        except NotFound:
            module = None
        return render.page(
            request,
            "job.html",
            job=job,
            artifacts=jobs.artifacts(job_id),
            devices=jobs.devices(job_id),
            module=module,
            published=catalog.publication(job_id),  # (module, version) once published
            suggested=pages.next_version(module.latest_version if module else None),
        )


def can_manage(viewer: Principal, module: ModuleRecord) -> bool:
    """Whether ``viewer`` may yank its versions and edit its aliases (its owner, an admin)."""
    try:
        policy.check_manage_module(viewer, module)
    except ModelportError:
        return False
    return True


def snippets(server: str, name: str) -> dict[str, Any]:
    """The "call it from code" box's context (snippets.js fills in the model's arguments)."""
    return {
        "server": server,
        "curl": pages.curl_snippet(server, name),
        "python": pages.python_snippet(server, name),
    }


def _multi(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params
