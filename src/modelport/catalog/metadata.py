"""The module metadata model, compatible with the AI4OS metadata schema v2 (``ai4-apps-v2.x``).

A module's ``ai4-metadata.yml`` validates as :class:`ModuleMetadata`: the schema's required keys,
its enumerations (:mod:`modelport.catalog.vocabulary`), URI, date, DOI and non-negative resource
rules, plus one addition the schema lacks: an SPDX ``license``. Like the schema, it keeps keys it
does not know (``links.ai4_template``, ``links.cicd_url``, ...) and writes them back, but rejects
the DEEP v1 keys that the schema forbids (``sources``, ``keywords``, ...): those are migrated by
:mod:`modelport.catalog.migrate_v1`.

Every failure is one :class:`~modelport.errors.InvalidInput` that lists every bad field at once,
keyed by its dotted path as written in the file (``links.source_code``, ``data-type.0``,
``resources.training.cpu``), each message stating the rule that failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from modelport.catalog.license import normalize_license
from modelport.catalog.vocabulary import V1_ONLY_KEYS, Category, DataType, Library, Task
from modelport.errors import InvalidInput

_VERSION: Final = re.compile(r"^2\.\d+\.\d+$")
_DOI: Final = re.compile(r"^(https?://(dx\.)?doi\.org/)?10\.\d{4,9}/\S+$")


def _check_uri(value: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme or any(c.isspace() for c in value):
        raise ValueError(f"'{value}' must be an absolute URI, e.g. 'https://example.org/...'")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise ValueError(f"'{value}' must be an absolute URI with a host")
    return value


def _check_version(value: str) -> str:
    if not _VERSION.match(value):
        raise ValueError(
            f"'{value}' must be a schema version 2.MINOR.PATCH (e.g. '2.3.0'); "
            "DEEP v1 files have no metadata_version and are migrated"
        )
    return value


def _check_doi(value: str) -> str:
    if not _DOI.match(value):
        raise ValueError(f"'{value}' must be a DOI such as '10.5281/zenodo.1234567'")
    return value


def _check_license(value: str) -> str:
    return normalize_license(value)


def _check_unique(items: list[str]) -> list[str]:
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        listed = ", ".join(f"'{item}'" for item in repeated)
        raise ValueError(f"items must be unique; repeated: {listed}")
    return items


Uri = Annotated[str, AfterValidator(_check_uri)]
# Strict, as JSON Schema's "integer" / "number": no booleans, no numbers written as strings.
Count = Annotated[int, Field(strict=True, ge=0)]
Amount = Annotated[float, Field(strict=True, ge=0)]
_config: Final = ConfigDict(
    extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
)


class Links(BaseModel):
    """Where the module's code, image, data, weights and documentation live."""

    model_config = _config

    self_url: Uri | None = Field(None, alias="self")
    documentation: Uri | None = None
    source_code: Uri
    docker_image: Uri | None = None
    zenodo_doi: Uri | None = None
    dataset: Uri | None = None
    weights: Uri | None = None
    citation: Uri | None = None
    base_model: Uri | None = None


class Dates(BaseModel):
    """Creation and last-update dates (both required when ``dates`` is given)."""

    model_config = _config

    created: date
    updated: date


class ResourceSpec(BaseModel):
    """Minimum or recommended resources for one kind of task."""

    model_config = _config

    cpu: Count | None = None
    gpu: Count | None = None
    memory_MB: Count | None = None
    gpu_memory_MB: Count | None = None
    gpu_compute_capability: Amount | None = None
    storage_MB: Count | None = None


class Resources(BaseModel):
    """Resources needed for inference and for training."""

    model_config = _config

    inference: ResourceSpec | None = None
    training: ResourceSpec | None = None


class ModuleMetadata(BaseModel):
    """The metadata of one catalog module (AI4OS schema v2 plus an SPDX license)."""

    model_config = _config

    metadata_version: Annotated[str, AfterValidator(_check_version)]
    title: str
    summary: str
    description: str
    doi: Annotated[str, AfterValidator(_check_doi)] | None = None
    dates: Dates | None = None
    links: Links
    libraries: Annotated[list[Library], AfterValidator(_check_unique)]
    tasks: Annotated[list[Task], AfterValidator(_check_unique)]
    categories: Annotated[list[Category], AfterValidator(_check_unique)]
    tags: Annotated[list[str], AfterValidator(_check_unique)]
    data_type: Annotated[list[DataType], AfterValidator(_check_unique)] | None = Field(
        None, alias="data-type"
    )
    resources: Resources | None = None
    license: Annotated[str, AfterValidator(_check_license)] | None = None


def dotted_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Turn a pydantic ValidationError into ``{dotted.field.path: [rule, ...]}``."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "_schema"
        message = error["msg"]
        if error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        errors.setdefault(path, []).append(message)
    return errors


def validate_metadata(data: Mapping[str, Any]) -> ModuleMetadata:
    """Validate a v2 metadata mapping; raise InvalidInput listing every bad field."""
    errors: dict[str, list[str]] = {
        key: [
            "is a DEEP v1 key, which metadata v2 forbids; "
            "remove it, or load a v1 file without metadata_version to migrate it"
        ]
        for key in V1_ONLY_KEYS
        if key in data
    }
    try:
        metadata = ModuleMetadata.model_validate(dict(data))
    except ValidationError as exc:
        for path, messages in dotted_errors(exc).items():
            errors.setdefault(path, []).extend(messages)
        raise InvalidInput(errors) from None
    if errors:
        raise InvalidInput(errors)
    return metadata
