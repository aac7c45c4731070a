"""A catalog version's metadata as the API answers it: JSON, or DCAT-AP JSON-LD, or AI4OS's shape.

``GET .../metadata`` negotiates on ``Accept``: ``application/ld+json`` gets the version as a
DCAT-AP 3 ``dcat:Dataset`` (:func:`dcat_document`), anything else the AI4OS metadata as stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from modelport.catalog.domain import VersionRecord
from modelport.catalog.license import normalize_license
from modelport.settings import Settings

JSON_LD = "application/ld+json"

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


def module_url(request: Request, settings: Settings, name: str) -> str:
    """The absolute URL of a module's resource."""
    return f"{request.url.scheme}://{request.url.netloc}{settings.base_path}/catalog/modules/{name}"


def metadata_response(request: Request, settings: Settings, record: VersionRecord) -> Response:
    """The metadata as JSON, or as DCAT-AP JSON-LD when the client accepts it."""
    if JSON_LD in request.headers.get("accept", ""):
        doc = dcat_document(record, module_url(request, settings, record.module))
        return JSONResponse(doc, media_type=JSON_LD)
    return JSONResponse(record.metadata)
