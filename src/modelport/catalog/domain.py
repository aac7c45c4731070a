"""Registry records: modules, immutable versions, aliases, artifacts, search results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

# The catalog's reader, defined beside the identities it names (auth sits below the catalog).
from modelport.auth.config import Audience as Audience  # noqa: PLC0414

if TYPE_CHECKING:  # records are read in processes that never parse metadata
    from modelport.catalog.metadata import ModuleMetadata

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,198}[a-z0-9])?$")
FACETS = ("libraries", "tasks", "categories", "data-type", "tags", "license")
LATEST = "latest"


class Visibility(StrEnum):
    """Who may see a module: any signed-in user, members of its groups, or its owner only.

    Its owner and admins always see it.
    """

    PUBLIC = "public"
    GROUP = "group"
    PRIVATE = "private"


class Lineage(BaseModel):
    """What produced a version: a training job, from a base version, on some data."""

    job_id: str | None = None
    base_version: str | None = None
    data_url: str | None = None


class ArtifactRecord(BaseModel):
    """A file of a version, kept in the artifact store by its checksum."""

    name: str
    sha256: str
    size: int
    media_type: str | None = None


class VersionRecord(BaseModel):
    """One immutable published version of a module."""

    module: str
    version: str
    metadata: dict[str, Any]
    load_spec: str | None = Field(None, description="entry point or import path of the model")
    package: str | None = Field(None, description="the distribution to install")
    source_url: str | None = None
    commit: str | None = None
    published_by: str | None = None
    published_at: datetime
    lineage: Lineage = Field(default_factory=Lineage)
    artifacts: list[ArtifactRecord] = Field(default_factory=list)
    yanked: bool = Field(
        False,
        description="withdrawn: not latest, not listed, still served by its exact version",
    )
    yanked_reason: str | None = None
    yanked_at: datetime | None = None
    yanked_by: str | None = None
    pipeline: dict[str, Any] | None = Field(
        None, description="a pipeline version's checked document; None for a model version"
    )

    @property
    def yanked_because(self) -> str | None:
        """Why it was yanked ("yanked" when no reason was given); None if it was not."""
        return (self.yanked_reason or "yanked") if self.yanked else None


class ModuleRecord(BaseModel):
    """A module: its identity, latest version and aliases."""

    name: str
    title: str
    summary: str
    owner: str | None = None
    visibility: Visibility = Visibility.PUBLIC
    groups: list[str] = Field(default_factory=list, description="who sees a 'group' module")
    deprecated: bool = False
    deprecation_message: str | None = None
    latest_version: str | None = Field(
        None, description="the highest version not yanked; None when every version is yanked"
    )
    aliases: dict[str, str] = Field(default_factory=dict)
    yanked_versions: list[str] = Field(
        default_factory=list, description="its yanked versions (an alias may still name one)"
    )
    created_at: datetime
    updated_at: datetime


class SearchHit(BaseModel):
    """A module in search results, with the facets of its latest version."""

    name: str
    title: str
    summary: str
    latest_version: str | None
    deprecated: bool
    visibility: Visibility = Visibility.PUBLIC
    tags: list[str] = Field(default_factory=list)
    libraries: list[str] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)
    score: float | None = None


class SearchPage(BaseModel):
    """One page of search results with facet counts over every match."""

    total: int
    limit: int
    offset: int
    modules: list[SearchHit]
    facets: dict[str, dict[str, int]]


@dataclass(frozen=True)
class NewVersion:
    """A version to publish: what it is, where it came from, and who publishes it under which
    rules (``Registry.add`` stores it in one transaction).

    A new module is owned by ``published_by`` and is ``visibility`` (default public); for an
    existing one, a given ``visibility`` replaces its own. With ``expect_owner``, an existing
    module owned by anybody else is Forbidden.
    """

    name: str
    version: str
    meta: ModuleMetadata
    load_spec: str | None = None
    package: str | None = None
    source_url: str | None = None
    commit: str | None = None
    published_by: str | None = None
    lineage: Lineage = field(default_factory=Lineage)
    artifacts: Sequence[ArtifactRecord] = ()
    visibility: Visibility | None = None
    groups: Sequence[str] = ()
    expect_owner: str | None = None
    #: a pipeline's checked document (``modelport.pipelines``); None for a model
    pipeline: dict[str, Any] | None = None
