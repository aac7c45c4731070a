"""Pydantic shapes of the DEEPaaS v2 documents, used to describe them in the OpenAPI schema.

The routes return plain dicts (legacy metadata passes through untouched); these classes only
document what clients receive.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Link(BaseModel):
    """A hypermedia link."""

    rel: str
    type: str | None = None
    href: str


class Version(BaseModel):
    """One API version."""

    version: str
    id: str
    links: list[Link]


class Versions(BaseModel):
    """The API versions and where the documentation is."""

    versions: list[Version]
    links: list[Link]


class ModelMeta(BaseModel):
    """A model's metadata; modules may add any other keys."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    description: str | None = None
    license: str | None = None
    author: str | None = None
    version: str | None = None
    url: str | None = None
    links: list[Link] | list[dict[str, Any]]


class ModelList(BaseModel):
    """Every served model's metadata."""

    models: list[ModelMeta]


class Health(BaseModel):
    """Liveness or readiness, with each model's state."""

    status: str
    models: dict[str, str] | None = None


def documented(model: type[BaseModel], **more: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering ``model`` with 200 (documentation only)."""
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": model, "description": model.__doc__ or ""}
    }
    responses.update(more)
    return responses
