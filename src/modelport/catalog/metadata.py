"""The module metadata model, as AI4OS metadata schema v2 (``ai4-apps-v2.x``) defines it.

Checking a file is two verdicts (:func:`check_metadata`): AI4OS's own, from its published JSON
schemas (:mod:`modelport.catalog.ai4os`; a DEEP v1 file is judged by the v1 schema), and, for what
AI4OS accepts, modelport's warnings (:mod:`modelport.catalog.normalize`: SPDX licences, URIs,
image references, dates). A v1 file is then migrated (:mod:`modelport.catalog.migrate_v1`). The
result is a :class:`ModuleMetadata`: the schema's fields with the schema's types (formats the
schema only annotates stay strings), plus ``license``, and every key the schema does not name kept
and written back (``links.ai4_template``, ``links.cicd_url``, ...).

Errors and warnings are ``{dotted.path: [message, ...]}`` keyed by the field as written in the
file (``links.source_code``, ``data-type.0``; a v1 file's ``sources.code``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelport.catalog import ai4os
from modelport.catalog.migrate_v1 import migrate_v1
from modelport.catalog.normalize import Warnings, normalize_v2
from modelport.catalog.vocabulary import Category, DataType, Library, Task
from modelport.errors import InvalidInput

# The schema's "integer" and "number" (checked by the schema before these types see a value).
Count = Annotated[int, Field(ge=0)]
Amount = Annotated[float, Field(ge=0)]
_config: Final = ConfigDict(
    extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
)


class Links(BaseModel):
    """Where the module's code, image, data, weights and documentation live."""

    model_config = _config

    self_url: str | None = Field(None, alias="self")
    documentation: str | None = None
    source_code: str
    docker_image: str | None = Field(None, description="An image reference, or a URI")
    zenodo_doi: str | None = None
    dataset: str | None = None
    weights: str | None = None
    citation: str | None = None
    base_model: str | None = None


class Dates(BaseModel):
    """Creation and last-update dates (both required when ``dates`` is given)."""

    model_config = _config

    created: str
    updated: str


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
    """The metadata of one catalog module (AI4OS schema v2, plus a ``license``)."""

    model_config = _config

    metadata_version: str
    title: str
    summary: str
    description: str
    doi: str | None = None
    dates: Dates | None = None
    links: Links
    libraries: list[Library]
    tasks: list[Task]
    categories: list[Category]
    tags: list[str]
    data_type: list[DataType] | None = Field(None, alias="data-type")
    resources: Resources | None = None
    license: str | None = Field(None, description="SPDX where known, else as written")


@dataclass(frozen=True)
class MetadataReport:
    """AI4OS's verdict on one metadata mapping, modelport's warnings, and the normalised result."""

    schema_version: str
    errors: dict[str, list[str]]
    warnings: Warnings = field(default_factory=dict)
    metadata: ModuleMetadata | None = None

    @property
    def valid(self) -> bool:
        """Whether AI4OS accepts the metadata."""
        return not self.errors


def check_metadata(data: Any) -> MetadataReport:
    """Judge a metadata mapping as AI4OS does; normalise (and migrate) what it accepts."""
    version = ai4os.schema_version_for(data)
    errors = ai4os.ai4os_errors(data, version)
    if errors:
        return MetadataReport(version, errors)
    if version == ai4os.V1_VERSION:
        v2, warnings = migrate_v1(data)
    else:
        platform = _platform_warnings(data)
        v2, warnings = normalize_v2(
            {k: v for k, v in data.items() if k != "resources"} if platform else data
        )
        warnings = {**platform, **warnings}
    try:
        metadata = ModuleMetadata.model_validate(v2)
    except ValidationError as exc:  # the schema accepted it: a mismatch of ours, said as such
        return MetadataReport(version, _pydantic_errors(exc), warnings)
    return MetadataReport(version, {}, warnings, metadata)


def validate_metadata(data: Mapping[str, Any]) -> ModuleMetadata:
    """A metadata mapping as a :class:`ModuleMetadata`; InvalidInput listing AI4OS's errors."""
    report = check_metadata(dict(data))
    if report.metadata is None:
        raise InvalidInput(report.errors)
    return report.metadata


def _platform_warnings(data: Mapping[str, Any]) -> Warnings:
    """What the AI4OS platform's latest schema refuses in a file its hub accepted.

    Only ``resources`` can differ (the latest schema adds its rules); it is left out of the
    record, as it cannot be read, and every reason is said.
    """
    refused = ai4os.ai4os_errors(data, ai4os.LATEST_VERSION)
    return {
        path: [
            f"{message}: the AI4OS platform's latest schema ({ai4os.LATEST_VERSION}) refuses "
            "it, so 'resources' is left out of the record"
            for message in messages
        ]
        for path, messages in refused.items()
    }


def stored_metadata(data: Mapping[str, Any]) -> ModuleMetadata:
    """Metadata as the registry keeps it (judged when it was published), as a ModuleMetadata."""
    return ModuleMetadata.model_validate(dict(data))


def _pydantic_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "_schema"
        errors.setdefault(path, []).append(error["msg"])
    return errors
