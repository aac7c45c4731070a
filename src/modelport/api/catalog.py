"""The Open Catalog API: search, modules, versions, metadata (JSON and DCAT-AP JSON-LD), artifacts.

Two shapes over one :class:`~modelport.catalog.service.CatalogService`:

- ``{base}/catalog/modules...``: modelport's own routes, reads and writes. Every route passes
  the caller (``CurrentPrincipal``) to the service, which applies ``modelport.auth.policy``:
  reads show only the modules the caller may see (hidden ones are 404), writes need the
  publisher role and, on an existing module, its ownership (or admin).
- ``{base}/v1/catalog/modules...``: the read routes of the AI4OS platform API (PAPI), so that
  existing AI4OS clients (dashboard, ai4-cli) can read this catalog unchanged.

Versions and aliases (owner or admin for every write):

- ``POST .../versions/{version}/yank`` ``{"reason": "..."}`` yanks an exact version (PEP 592's
  sense): no longer ``latest``, left out of listings (``?include_yanked=true`` lists it, with
  ``yanked``, ``yanked_reason``, ``yanked_at``, ``yanked_by``), still served by its number;
  ``DELETE`` on the same path unyanks it. Both answer the version record.
- ``PUT .../aliases/{alias}`` ``{"version": "..."}`` sets or moves an alias (not onto a yanked
  version: 409), ``DELETE .../aliases/{alias}`` removes it; both answer the module record.
- ``GET {base}/catalog/jobs/{job_id}/publication``: whether a training job was published, and as
  which version (a job is published once: a second publish is 409 naming that version).

Artifact downloads are conditional and ranged (``api/catalog_downloads.py``); metadata is JSON or
DCAT-AP JSON-LD (``api/catalog_metadata.py``).

:class:`CatalogEndpoints` holds one method per route; :func:`catalog_router` is the route table.
"""

from __future__ import annotations

import tempfile
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from modelport.api.auth import CurrentPrincipal
from modelport.api.catalog_bodies import (
    AliasRequest,
    DeprecateRequest,
    JobPublication,
    JobPublishRequest,
    ModuleDetail,
    PublishRequest,
    VisibilityRequest,
    YankRequest,
    summarize,
)
from modelport.api.catalog_downloads import artifact_response
from modelport.api.catalog_metadata import JSON_LD, ai4os_summary, metadata_response
from modelport.api.uploads import check_declared_size
from modelport.auth import policy
from modelport.catalog.domain import ModuleRecord, SearchPage, VersionRecord, Visibility
from modelport.catalog.git import GitPolicy
from modelport.catalog.service import CatalogService
from modelport.catalog.vocabulary import Category, DataType, Library, Task
from modelport.errors import PayloadTooLarge
from modelport.settings import MiB, Settings


class CatalogEndpoints:
    """The catalog routes' handlers over one :class:`CatalogService`, one method per route.

    Each method is a FastAPI endpoint: its name is the route's name (and so its operation id), its
    parameters are the request's. The methods carry no docstrings because FastAPI would publish
    them as the operations' descriptions; :func:`catalog_router` gives each its summary.
    """

    def __init__(self, catalog: CatalogService, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.git = GitPolicy.for_publishers(
            allow_ssh=settings.git_allow_ssh,
            allowed_hosts=settings.git_allowed_hosts,
            max_bytes=settings.git_max_size_mb * MiB,
        )

    def search_modules(
        self,
        *,
        principal: CurrentPrincipal,
        q: str = "",
        libraries: Annotated[list[Library] | None, Query()] = None,
        tasks: Annotated[list[Task] | None, Query()] = None,
        categories: Annotated[list[Category] | None, Query()] = None,
        data_type: Annotated[list[DataType] | None, Query(alias="data-type")] = None,
        license: Annotated[list[str] | None, Query()] = None,
        tag: Annotated[list[str] | None, Query(alias="tags")] = None,
        include_deprecated: bool = False,
        include_yanked: Annotated[
            bool, Query(description="also modules whose every version is yanked (no latest)")
        ] = False,
        sort: Literal["relevance", "name", "updated", "created"] = "relevance",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> SearchPage:
        chosen = {
            "libraries": libraries,
            "tasks": tasks,
            "categories": categories,
            "data-type": data_type,
            "license": license,
            "tags": tag,
        }
        filters = {facet: list(values) for facet, values in chosen.items() if values}
        return self.catalog.search(
            q,
            principal,
            filters=filters,
            include_deprecated=include_deprecated,
            include_yanked=include_yanked,
            sort=sort,
            limit=limit,
            offset=offset,
        )

    def publish(self, request: PublishRequest, principal: CurrentPrincipal) -> VersionRecord:
        options: dict[str, Any] = {
            "version": request.version,
            "visibility": request.visibility,
            "groups": request.groups,
            "principal": principal,
        }
        return self.catalog.publish(request.source, request.ref, git=self.git, **options)

    async def publish_archive(
        self,
        request: Request,
        principal: CurrentPrincipal,
        version: str | None = None,
        visibility: Visibility | None = None,
        groups: Annotated[list[str] | None, Query()] = None,
    ) -> VersionRecord:
        policy.check_publish(principal)  # before reading what may be a large body
        limit = self.git.max_bytes
        check_declared_size(request, limit)
        with tempfile.TemporaryDirectory(prefix="modelport-archive-") as workdir:
            archive = Path(workdir) / "project.tar.gz"
            received = 0
            with archive.open("wb") as out:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > limit:
                        raise PayloadTooLarge(limit)
                    await anyio.to_thread.run_sync(out.write, chunk)  # off the event loop
            options: dict[str, Any] = {
                "version": version,
                "visibility": visibility,
                "groups": groups or [],
                "principal": principal,
            }
            publish = partial(self.catalog.publish_archive, archive, limit, **options)
            return await anyio.to_thread.run_sync(publish)

    def get_module(self, name: str, principal: CurrentPrincipal) -> ModuleDetail:
        module, latest = self.catalog.module_detail(name, principal)
        return ModuleDetail(**module.model_dump(), latest=latest and summarize(latest))

    def list_versions(
        self,
        name: str,
        principal: CurrentPrincipal,
        include_yanked: Annotated[
            bool, Query(description="list yanked versions too (marked yanked: true)")
        ] = False,
    ) -> list[VersionRecord]:
        return self.catalog.versions(name, principal, include_yanked=include_yanked)

    def publish_job(
        self, name: str, request: JobPublishRequest, principal: CurrentPrincipal
    ) -> VersionRecord:
        return self.catalog.publish_job(
            request.job_id,
            module=name,
            version=request.version,
            base_version=request.base_version,
            data_url=request.data_url,
            principal=principal,
        )

    def get_version(self, name: str, version: str, principal: CurrentPrincipal) -> VersionRecord:
        return self.catalog.version(name, version, principal)

    def yank(
        self, name: str, version: str, request: YankRequest, principal: CurrentPrincipal
    ) -> VersionRecord:
        return self.catalog.yank(name, version, request.reason, principal)

    def unyank(self, name: str, version: str, principal: CurrentPrincipal) -> VersionRecord:
        return self.catalog.unyank(name, version, principal)

    def job_publication(self, job_id: str, principal: CurrentPrincipal) -> JobPublication:
        found = self.catalog.publication(job_id, principal)
        if found is None:
            return JobPublication(job_id=job_id, published=False)
        return JobPublication(job_id=job_id, published=True, module=found[0], version=found[1])

    def get_metadata(
        self, request: Request, name: str, principal: CurrentPrincipal, version: str = "latest"
    ) -> Response:
        record = self.catalog.version(name, version, principal)
        return metadata_response(request, self.settings, record)

    def set_alias(
        self, name: str, alias: str, request: AliasRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return self.catalog.set_alias(name, alias, request.version, principal)

    def remove_alias(self, name: str, alias: str, principal: CurrentPrincipal) -> ModuleRecord:
        return self.catalog.remove_alias(name, alias, principal)

    def deprecate(
        self, name: str, request: DeprecateRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return self.catalog.deprecate(name, request.deprecated, request.message, principal)

    def set_visibility(
        self, name: str, request: VisibilityRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return self.catalog.set_visibility(name, request.visibility, request.groups, principal)

    def download(
        self,
        *,
        name: str,
        version: str,
        artifact: str,
        principal: CurrentPrincipal,
        range_header: Annotated[str | None, Header(alias="range")] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        record = self.catalog.artifact(name, version, artifact, principal)
        return artifact_response(self.catalog, record, range_header, if_none_match)

    # -- AI4OS PAPI read shape ------------------------------------------------------------------

    def v1_names(self, principal: CurrentPrincipal) -> list[str]:
        return self.catalog.names(principal, with_latest=True)

    def v1_detail(self, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        names = self.catalog.names(principal, with_latest=True)
        return [ai4os_summary(n, self.catalog.version(n).metadata) for n in names]

    def v1_metadata(self, request: Request, name: str, principal: CurrentPrincipal) -> Response:
        record = self.catalog.version(name, principal=principal)
        return metadata_response(request, self.settings, record)


def catalog_router(catalog: CatalogService, settings: Settings) -> APIRouter:
    """The route table: the ``/catalog`` routes, then the AI4OS ``/v1/catalog`` read routes.

    Starlette tries routes in the order they are added, so the order here is part of the API.
    """
    api = CatalogEndpoints(catalog, settings)
    router = APIRouter(prefix=settings.base_path)
    tags: list[str | Enum] = ["catalog"]
    ai4os: list[str | Enum] = ["catalog (AI4OS v1)"]
    json_ld: dict[int | str, dict[str, Any]] = {200: {"content": {JSON_LD: {}}}}
    router.add_api_route(
        "/catalog/modules",
        api.search_modules,
        methods=["GET"],
        tags=tags,
        summary="Search modules (full text + facets)",
    )
    router.add_api_route(
        "/catalog/modules",
        api.publish,
        methods=["POST"],
        tags=tags,
        status_code=201,
        summary="Publish a module from a git repository or a server directory",
    )
    router.add_api_route(
        "/catalog/modules/archive",
        api.publish_archive,
        methods=["POST"],
        tags=tags,
        status_code=201,
        summary="Publish a module project sent as a gzipped tar (modelport catalog publish DIR)",
        openapi_extra={
            "requestBody": {"content": {"application/gzip": {}}, "required": True},
        },
    )
    router.add_api_route(
        "/catalog/modules/{name}",
        api.get_module,
        methods=["GET"],
        tags=tags,
        summary="A module and its latest version",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions",
        api.list_versions,
        methods=["GET"],
        tags=tags,
        summary="Versions, highest first (yanked ones with include_yanked=true)",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions",
        api.publish_job,
        methods=["POST"],
        tags=tags,
        status_code=201,
        summary="Publish a succeeded training job's artifacts as a new version",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions/{version}",
        api.get_version,
        methods=["GET"],
        tags=tags,
        summary="A version (by number or alias: latest, stable, ...)",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions/{version}/yank",
        api.yank,
        methods=["POST"],
        tags=tags,
        summary="Yank a version (owner or admin): not latest, not listed, still callable by number",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions/{version}/yank",
        api.unyank,
        methods=["DELETE"],
        tags=tags,
        summary="Unyank a version (owner or admin)",
    )
    router.add_api_route(
        "/catalog/jobs/{job_id}/publication",
        api.job_publication,
        methods=["GET"],
        tags=tags,
        summary="Whether a training job was published, and as which version",
    )
    router.add_api_route(
        "/catalog/modules/{name}/metadata",
        api.get_metadata,
        methods=["GET"],
        tags=tags,
        response_class=JSONResponse,
        responses=json_ld,
        summary="A version's metadata: JSON, or DCAT-AP JSON-LD (Accept: application/ld+json)",
    )
    router.add_api_route(
        "/catalog/modules/{name}/aliases/{alias}",
        api.set_alias,
        methods=["PUT"],
        tags=tags,
        summary="Point an alias (stable, ...) at a version",
    )
    router.add_api_route(
        "/catalog/modules/{name}/aliases/{alias}",
        api.remove_alias,
        methods=["DELETE"],
        tags=tags,
        summary="Remove an alias (owner or admin)",
    )
    router.add_api_route(
        "/catalog/modules/{name}/deprecate",
        api.deprecate,
        methods=["POST"],
        tags=tags,
        summary="Flag or unflag a module as deprecated",
    )
    router.add_api_route(
        "/catalog/modules/{name}/visibility",
        api.set_visibility,
        methods=["PUT"],
        tags=tags,
        summary="Make a module public, visible to some groups, or private (owner or admin)",
    )
    router.add_api_route(
        "/catalog/modules/{name}/versions/{version}/artifacts/{artifact:path}",
        api.download,
        methods=["GET"],
        tags=tags,
        response_class=StreamingResponse,
        summary="Download an artifact (ranges, ETag, Repr-Digest)",
    )

    # -- AI4OS PAPI read shape ------------------------------------------------------------------
    router.add_api_route(
        "/v1/catalog/modules",
        api.v1_names,
        methods=["GET"],
        tags=ai4os,
        summary="Module names (AI4OS)",
    )
    router.add_api_route(
        "/v1/catalog/modules/detail",
        api.v1_detail,
        methods=["GET"],
        tags=ai4os,
        summary="Module summaries (AI4OS)",
    )
    router.add_api_route(
        "/v1/catalog/modules/{name}/metadata",
        api.v1_metadata,
        methods=["GET"],
        tags=ai4os,
        response_class=JSONResponse,
        responses=json_ld,
        summary="The latest version's metadata (AI4OS)",
    )
    return router
