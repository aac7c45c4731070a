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

Artifact downloads are conditional and ranged: ``ETag`` is the quoted SHA-256, ``Repr-Digest``
(RFC 9530) and ``Digest`` (RFC 3230) carry it in base64, ``Range: bytes=...`` answers 206 and an
unsatisfiable range 416 with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal

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
    VersionSummary,  # noqa: F401  (re-exported: the bodies were defined here)
    VisibilityRequest,
    YankRequest,
    summarize,
)
from modelport.catalog.domain import (
    ArtifactRecord,
    ModuleRecord,
    SearchPage,
    VersionRecord,
)
from modelport.catalog.git import GitPolicy
from modelport.catalog.license import normalize_license
from modelport.catalog.service import CatalogService
from modelport.catalog.vocabulary import Category, DataType, Library, Task
from modelport.errors import InvalidInput
from modelport.settings import MiB, Settings

JSON_LD = "application/ld+json"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

# -- JSON-LD (DCAT-AP) ----------------------------------------------------------------------------

DCAT_CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def dcat_document(record: VersionRecord, module_url: str) -> dict[str, Any]:
    """A version's metadata as a DCAT-AP 3 ``dcat:Dataset`` in JSON-LD.

    Why ``dcat:Dataset``: DCAT 3 says ``dcat:Resource`` is "not intended to be used directly"
    but through its subclasses, and DCAT-AP 3 profiles only ``dcat:Dataset``,
    ``dcat:DatasetSeries`` and ``dcat:DataService`` as catalogued resources. A published model
    version is a fixed, downloadable collection of files (weights, configuration), which is what a
    dataset with ``dcat:distribution`` describes (``dcat:distribution`` has the domain
    ``dcat:Dataset``); it is not a service. MLDCAT-AP, the profile AI4OS maps its metadata to,
    likewise extends DCAT-AP's Dataset. Each artifact is a ``dcat:Distribution`` with its
    ``dcat:downloadURL`` and ``spdx:checksum`` (SHA-256).
    """
    meta = record.metadata
    links = meta.get("links") or {}
    version_url = f"{module_url}/versions/{record.version}"
    doc: dict[str, Any] = {
        "@context": DCAT_CONTEXT,
        "@id": version_url,
        "@type": "dcat:Dataset",
        "dct:identifier": f"{record.module}@{record.version}",
        "dct:title": meta.get("title"),
        "dct:description": meta.get("description"),
        "dcat:version": record.version,
        "dcat:keyword": list(meta.get("tags") or []),
        "dcat:theme": [*meta.get("tasks", []), *meta.get("categories", [])],
        "dcat:landingPage": {"@id": links.get("documentation") or links["source_code"]},
        "dct:source": {"@id": links["source_code"]},
        "foaf:page": [{"@id": u} for u in (links.get("documentation"),) if u],
    }
    if meta.get("license"):
        doc["dct:license"] = _license_node(meta["license"])
    dates = meta.get("dates") or {}
    doc["dct:issued"] = _date_node(dates.get("created") or record.published_at.date().isoformat())
    if dates.get("updated"):
        doc["dct:modified"] = _date_node(dates["updated"])
    if meta.get("doi"):
        doc["dct:identifier"] = [doc["dct:identifier"], meta["doi"]]
    if record.lineage.base_version:
        doc["dct:isVersionOf"] = {"@id": f"{module_url}/versions/{record.lineage.base_version}"}
    doc["dcat:distribution"] = [
        {
            "@type": "dcat:Distribution",
            "dct:title": artifact.name,
            "dcat:downloadURL": {"@id": f"{version_url}/artifacts/{artifact.name}"},
            "dcat:byteSize": {"@value": str(artifact.size), "@type": "xsd:nonNegativeInteger"},
            **({"dcat:mediaType": artifact.media_type} if artifact.media_type else {}),
            "spdx:checksum": {
                "@type": "spdx:Checksum",
                "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                "spdx:checksumValue": artifact.sha256,
            },
        }
        for artifact in record.artifacts
    ]
    return doc


def _license_node(license_text: str) -> dict[str, str]:
    """An SPDX licence by its URI; a licence kept as written (not SPDX) as a titled document."""
    try:
        normalize_license(license_text)
    except ValueError:
        return {"@type": "dct:LicenseDocument", "dct:title": license_text}
    return {"@id": f"https://spdx.org/licenses/{license_text}"}


def _date_node(value: str) -> dict[str, str] | str:
    """A date typed ``xsd:date`` when it is one; a date AI4OS accepted as free text stays text."""
    try:
        date.fromisoformat(value)
    except ValueError:
        return value
    return {"@value": value, "@type": "xsd:date"}


def ai4os_summary(name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """PAPI's ``/detail`` entry: the metadata without ``description`` and ``links``, plus name."""
    summary = {k: v for k, v in metadata.items() if k not in ("description", "links")}
    return {"name": name, **summary}


# -- HTTP helpers ---------------------------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int | None] | None:
    """``Range: bytes=...`` as ``(start, exclusive end)``; None to serve the whole object.

    Syntax the server does not understand (other units, several ranges) is ignored, as RFC 9110
    allows; a suffix ``bytes=-n`` is the last ``n`` bytes.
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.group(0) == "bytes=-":
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise InvalidInput({"range": ["a suffix range of 0 bytes is unsatisfiable"]})
        return max(size - suffix, 0), None
    return int(first), int(last) + 1 if last else None


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison) or is ``*``."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def module_url(request: Request, settings: Settings, name: str) -> str:
    """The absolute URL of a module's resource."""
    return f"{request.url.scheme}://{request.url.netloc}{settings.base_path}/catalog/modules/{name}"


def metadata_response(request: Request, settings: Settings, record: VersionRecord) -> Response:
    """The metadata as JSON, or as DCAT-AP JSON-LD when the client accepts it."""
    if JSON_LD in request.headers.get("accept", ""):
        doc = dcat_document(record, module_url(request, settings, record.module))
        return JSONResponse(doc, media_type=JSON_LD)
    return JSONResponse(record.metadata)


# -- the routers ----------------------------------------------------------------------------------


def catalog_router(catalog: CatalogService, settings: Settings) -> APIRouter:
    """The ``/catalog`` routes and the AI4OS ``/v1/catalog`` read routes."""
    router = APIRouter(prefix=settings.base_path)
    git = GitPolicy.for_publishers(
        allow_ssh=settings.git_allow_ssh,
        allowed_hosts=settings.git_allowed_hosts,
        max_bytes=settings.git_max_size_mb * MiB,
    )
    tags: list[str | Enum] = ["catalog"]

    @router.get("/catalog/modules", tags=tags, summary="Search modules (full text + facets)")
    def search_modules(
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
        return catalog.search(
            q,
            principal,
            filters=filters,
            include_deprecated=include_deprecated,
            include_yanked=include_yanked,
            sort=sort,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/catalog/modules",
        status_code=201,
        tags=tags,
        summary="Publish a module from a git repository or a server directory",
    )
    def publish(request: PublishRequest, principal: CurrentPrincipal) -> VersionRecord:
        options: dict[str, Any] = {
            "version": request.version,
            "visibility": request.visibility,
            "groups": request.groups,
            "principal": principal,
        }
        return catalog.publish(request.source, request.ref, git=git, **options)

    @router.get("/catalog/modules/{name}", tags=tags, summary="A module and its latest version")
    def get_module(name: str, principal: CurrentPrincipal) -> ModuleDetail:
        module, latest = catalog.module_detail(name, principal)
        return ModuleDetail(**module.model_dump(), latest=latest and summarize(latest))

    @router.get(
        "/catalog/modules/{name}/versions",
        tags=tags,
        summary="Versions, highest first (yanked ones with include_yanked=true)",
    )
    def list_versions(
        name: str,
        principal: CurrentPrincipal,
        include_yanked: Annotated[
            bool, Query(description="list yanked versions too (marked yanked: true)")
        ] = False,
    ) -> list[VersionRecord]:
        return catalog.versions(name, principal, include_yanked=include_yanked)

    @router.post(
        "/catalog/modules/{name}/versions",
        status_code=201,
        tags=tags,
        summary="Publish a succeeded training job's artifacts as a new version",
    )
    def publish_job(
        name: str, request: JobPublishRequest, principal: CurrentPrincipal
    ) -> VersionRecord:
        return catalog.publish_job(
            request.job_id,
            module=name,
            version=request.version,
            base_version=request.base_version,
            data_url=request.data_url,
            principal=principal,
        )

    @router.get(
        "/catalog/modules/{name}/versions/{version}",
        tags=tags,
        summary="A version (by number or alias: latest, stable, ...)",
    )
    def get_version(name: str, version: str, principal: CurrentPrincipal) -> VersionRecord:
        return catalog.version(name, version, principal)

    @router.post(
        "/catalog/modules/{name}/versions/{version}/yank",
        tags=tags,
        summary="Yank a version (owner or admin): not latest, not listed, still callable by number",
    )
    def yank(
        name: str, version: str, request: YankRequest, principal: CurrentPrincipal
    ) -> VersionRecord:
        return catalog.yank(name, version, request.reason, principal)

    @router.delete(
        "/catalog/modules/{name}/versions/{version}/yank",
        tags=tags,
        summary="Unyank a version (owner or admin)",
    )
    def unyank(name: str, version: str, principal: CurrentPrincipal) -> VersionRecord:
        return catalog.unyank(name, version, principal)

    @router.get(
        "/catalog/jobs/{job_id}/publication",
        tags=tags,
        summary="Whether a training job was published, and as which version",
    )
    def job_publication(job_id: str, principal: CurrentPrincipal) -> JobPublication:
        found = catalog.publication(job_id, principal)
        if found is None:
            return JobPublication(job_id=job_id, published=False)
        return JobPublication(job_id=job_id, published=True, module=found[0], version=found[1])

    @router.get(
        "/catalog/modules/{name}/metadata",
        tags=tags,
        response_class=JSONResponse,
        summary="A version's metadata: JSON, or DCAT-AP JSON-LD (Accept: application/ld+json)",
        responses={200: {"content": {JSON_LD: {}}}},
    )
    def get_metadata(
        request: Request, name: str, principal: CurrentPrincipal, version: str = "latest"
    ) -> Response:
        return metadata_response(request, settings, catalog.version(name, version, principal))

    @router.put(
        "/catalog/modules/{name}/aliases/{alias}",
        tags=tags,
        summary="Point an alias (stable, ...) at a version",
    )
    def set_alias(
        name: str, alias: str, request: AliasRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return catalog.set_alias(name, alias, request.version, principal)

    @router.delete(
        "/catalog/modules/{name}/aliases/{alias}",
        tags=tags,
        summary="Remove an alias (owner or admin)",
    )
    def remove_alias(name: str, alias: str, principal: CurrentPrincipal) -> ModuleRecord:
        return catalog.remove_alias(name, alias, principal)

    @router.post(
        "/catalog/modules/{name}/deprecate",
        tags=tags,
        summary="Flag or unflag a module as deprecated",
    )
    def deprecate(
        name: str, request: DeprecateRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return catalog.deprecate(name, request.deprecated, request.message, principal)

    @router.put(
        "/catalog/modules/{name}/visibility",
        tags=tags,
        summary="Make a module public, visible to some groups, or private (owner or admin)",
    )
    def set_visibility(
        name: str, request: VisibilityRequest, principal: CurrentPrincipal
    ) -> ModuleRecord:
        return catalog.set_visibility(name, request.visibility, request.groups, principal)

    @router.get(
        "/catalog/modules/{name}/versions/{version}/artifacts/{artifact:path}",
        tags=tags,
        summary="Download an artifact (ranges, ETag, Repr-Digest)",
        response_class=StreamingResponse,
    )
    def download(
        *,
        name: str,
        version: str,
        artifact: str,
        principal: CurrentPrincipal,
        range_header: Annotated[str | None, Header(alias="range")] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        record = catalog.artifact(name, version, artifact, principal)
        return artifact_response(catalog, record, range_header, if_none_match)

    # -- AI4OS PAPI read shape ------------------------------------------------------------------

    ai4os: list[str | Enum] = ["catalog (AI4OS v1)"]

    @router.get("/v1/catalog/modules", tags=ai4os, summary="Module names (AI4OS)")
    def v1_names(principal: CurrentPrincipal) -> list[str]:
        return catalog.names(principal, with_latest=True)

    @router.get("/v1/catalog/modules/detail", tags=ai4os, summary="Module summaries (AI4OS)")
    def v1_detail(principal: CurrentPrincipal) -> list[dict[str, Any]]:
        names = catalog.names(principal, with_latest=True)
        return [ai4os_summary(n, catalog.version(n).metadata) for n in names]

    @router.get(
        "/v1/catalog/modules/{name}/metadata",
        tags=ai4os,
        response_class=JSONResponse,
        summary="The latest version's metadata (AI4OS)",
        responses={200: {"content": {JSON_LD: {}}}},
    )
    def v1_metadata(request: Request, name: str, principal: CurrentPrincipal) -> Response:
        return metadata_response(request, settings, catalog.version(name, principal=principal))

    return router


def artifact_response(
    catalog: CatalogService,
    record: ArtifactRecord,
    range_header: str | None,
    if_none_match: str | None,
) -> Response:
    """The artifact's bytes, whole or a range, or 304/416, with its checksum headers."""
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode()
    etag = f'"{record.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"sha-256={digest}",
        "Content-Disposition": f'attachment; filename="{record.name.rsplit("/", 1)[-1]}"',
    }
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    media = record.media_type or "application/octet-stream"
    try:
        wanted = parse_range(range_header, record.size)
        if wanted is None:
            chunks: Iterator[bytes] = catalog.artifacts.iter_chunks(record.sha256)
            headers["Content-Length"] = str(record.size)
            return StreamingResponse(chunks, media_type=media, headers=headers)
        part = catalog.artifacts.resolve_range(record.sha256, *wanted)
    except InvalidInput as exc:
        if "range" not in exc.errors:
            raise
        return JSONResponse(
            {"message": f"range not satisfiable: {'; '.join(exc.errors['range'])}"},
            status_code=416,
            headers={"Content-Range": f"bytes */{record.size}", "Accept-Ranges": "bytes"},
        )
    headers["Content-Range"] = part.content_range()
    headers["Content-Length"] = str(part.length)
    chunks = catalog.artifacts.iter_chunks(record.sha256, part.start, part.end)
    return StreamingResponse(chunks, status_code=206, media_type=media, headers=headers)
