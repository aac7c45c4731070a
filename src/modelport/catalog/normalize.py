"""modelport's rules on top of AI4OS's verdict: normalise what is kept, warn about what looks wrong.

Applied only to metadata AI4OS's schema accepts (:mod:`modelport.catalog.ai4os`), so nothing here
refuses a file; it returns the normalised mapping and ``{dotted.path: [warning, ...]}``:

- identifiers (links, DOI, dates, license, metadata version) lose surrounding whitespace, with a
  warning quoting what was written;
- ``links.*`` should be absolute URIs, except ``links.docker_image``, an image reference
  (``ai4oshub/ai4os-demo-app``, ``vllm/vllm-openai:latest``, ``ghcr.io/org/x@sha256:…``)
  or a URI; ``doi`` a DOI; ``dates.*`` ISO dates (the schema only annotates these formats);
- ``license`` (modelport's addition; v2 has no such key) becomes its SPDX identifier where one is
  known for what was written (``Apache 2.0`` → ``Apache-2.0``); anything else is kept as written,
  with a warning;
- a ``metadata_version`` that names no published v2 schema is kept, with a warning saying which
  schema judged the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Final
from urllib.parse import urlsplit

from modelport.catalog.ai4os import LATEST_VERSION, SCHEMA_VERSIONS
from modelport.catalog.license import normalize_license, spdx_from_name

Warnings = dict[str, list[str]]

_DOI: Final = re.compile(r"^(https?://(dx\.)?doi\.org/)?10\.\d{4,9}/\S+$")
# The image reference grammar of the OCI distribution spec (github.com/distribution/reference).
_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN: Final = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE: Final = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@{_DIGEST})?$"
)
_IDENTIFIERS: Final = ("metadata_version", "doi", "license")
#: The links the schema defines as URIs; others (``ai4_template: ai4-template/2.2.0``) are free.
_URI_LINKS: Final = (
    "self",
    "documentation",
    "source_code",
    "zenodo_doi",
    "dataset",
    "weights",
    "citation",
    "base_model",
)


def is_image_reference(value: str) -> bool:
    """Whether ``value`` is a container image reference (``[registry/]path[:tag][@digest]``)."""
    return len(value) <= 255 and _IMAGE.match(value) is not None


def is_absolute_uri(value: str) -> bool:
    """Whether ``value`` is an absolute URI (http(s) ones with a host)."""
    parts = urlsplit(value)
    if not parts.scheme or any(c.isspace() for c in value):
        return False
    return not (parts.scheme in ("http", "https") and not parts.netloc)


def normalize_v2(data: Mapping[str, Any]) -> tuple[dict[str, Any], Warnings]:
    """Normalise an AI4OS-valid v2 mapping (a copy) and say what looked wrong."""
    out = dict(data)
    warnings: Warnings = {}
    for key in _IDENTIFIERS:
        if isinstance(out.get(key), str):
            out[key] = _trimmed(out[key], key, warnings)
    version = out.get("metadata_version")
    published = version in SCHEMA_VERSIONS and str(version).startswith("2.")
    if isinstance(version, str) and not published:
        _warn(
            warnings,
            "metadata_version",
            f"'{version}' is not a published v2 schema version; "
            f"the file was judged by the latest AI4OS schema, {LATEST_VERSION}",
        )
    if isinstance(out.get("doi"), str) and not _DOI.match(out["doi"]):
        _warn(warnings, "doi", f"'{out['doi']}' is not a DOI such as '10.5281/zenodo.1234567'")
    if isinstance(out.get("links"), Mapping):
        out["links"] = _links(out["links"], warnings)
    if isinstance(out.get("dates"), Mapping):
        out["dates"] = _dates(out["dates"], warnings)
    if "license" in out:
        out["license"] = normalize_license_text(out["license"], "license", warnings)
    return out, warnings


def normalize_license_text(
    value: Any, path: str, warnings: Warnings, *, free_text: bool = False
) -> str | None:
    """The SPDX form of a license as written where one is known; else the text as written.

    ``free_text``: the format expects a name, not an identifier (DEEP v1), so recording a known
    name as its identifier is no news.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        _warn(warnings, path, f"{value!r} is not a license name; it was left out")
        return None
    text = value.strip()
    try:
        return normalize_license(text)
    except ValueError:
        pass
    spdx = spdx_from_name(text)
    if spdx is not None:
        if not free_text:
            _warn(warnings, path, f"'{value}' was recorded as the SPDX identifier '{spdx}'")
        return spdx
    _warn(
        warnings,
        path,
        f"'{value}' is not an SPDX license identifier or expression; it is kept as written "
        "(see https://spdx.org/licenses/)",
    )
    return text


def _links(links: Mapping[str, Any], warnings: Warnings) -> dict[str, Any]:
    out = dict(links)
    for key, value in links.items():
        if not isinstance(value, str) or key not in (*_URI_LINKS, "docker_image"):
            continue
        path = f"links.{key}"
        link = out[key] = _trimmed(value, path, warnings)
        if key == "docker_image":
            if not (is_image_reference(link) or is_absolute_uri(link)):
                _warn(warnings, path, f"'{link}' is neither an image reference nor a URI")
        elif not is_absolute_uri(link):
            _warn(warnings, path, f"'{link}' is not an absolute URI, e.g. 'https://example.org/'")
    return out


def _dates(dates: Mapping[str, Any], warnings: Warnings) -> dict[str, Any]:
    out = dict(dates)
    for key, value in dates.items():
        if not isinstance(value, str):
            continue
        path = f"dates.{key}"
        written = out[key] = _trimmed(value, path, warnings)
        try:
            date.fromisoformat(written)
        except ValueError:
            _warn(warnings, path, f"'{written}' is not a date written YYYY-MM-DD")
    return out


def _trimmed(value: str, path: str, warnings: Warnings) -> str:
    trimmed = value.strip()
    if trimmed != value:
        _warn(warnings, path, f"{value!r} has surrounding whitespace; recorded as {trimmed!r}")
    return trimmed


def _warn(warnings: Warnings, path: str, message: str) -> None:
    bucket = warnings.setdefault(path, [])
    if message not in bucket:
        bucket.append(message)
