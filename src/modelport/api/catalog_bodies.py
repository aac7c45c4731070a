"""The Open Catalog API's request and response bodies, used by the routes of ``api/catalog.py``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from modelport.catalog.domain import (
    ArtifactRecord,
    Lineage,
    ModuleRecord,
    VersionRecord,
    Visibility,
)


class PublishRequest(BaseModel):
    """Publish a module from a git repository URL or a directory on the server."""

    source: str = Field(
        description="a git repository's https:// URL (ssh too where the server allows it), "
        "or (admins) a path on the server"
    )
    ref: str | None = Field(None, description="git branch or tag")
    version: str | None = Field(None, description="version to publish; default: the module's")
    visibility: Visibility | None = Field(
        None, description="who sees the module; default: public (new), unchanged (existing)"
    )
    groups: list[str] = Field(default_factory=list, description="who sees a 'group' module")


class VisibilityRequest(BaseModel):
    """Who sees a module: everybody signed in, members of ``groups``, or its owner only."""

    visibility: Visibility
    groups: list[str] = Field(default_factory=list, description="for 'group': these groups")


class AliasRequest(BaseModel):
    """Point an alias at a version."""

    version: str


class YankRequest(BaseModel):
    """Why a version is yanked (shown wherever the version is)."""

    reason: str = Field(description="why: shown with the version (at most 1000 characters)")


class JobPublication(BaseModel):
    """Whether a training job's artifacts were published, and as which version."""

    job_id: str
    published: bool
    module: str | None = None
    version: str | None = None


class DeprecateRequest(BaseModel):
    """Flag or unflag a module as deprecated."""

    deprecated: bool = True
    message: str | None = None


class JobPublishRequest(BaseModel):
    """Publish a succeeded training job's artifacts as a new version."""

    job_id: str
    version: str
    base_version: str | None = Field(None, description="version trained from; default: latest")
    data_url: str | None = Field(None, description="training data; default: from the job's args")


class VersionSummary(BaseModel):
    """A version without its metadata."""

    version: str
    published_at: datetime
    published_by: str | None = None
    source_url: str | None = None
    commit: str | None = None
    lineage: Lineage
    artifacts: list[ArtifactRecord]


class ModuleDetail(ModuleRecord):
    """A module with a summary of its latest version."""

    latest: VersionSummary | None = None


def summarize(record: VersionRecord) -> VersionSummary:
    """A version record without its metadata."""
    return VersionSummary(**record.model_dump(exclude={"module", "metadata"}))
