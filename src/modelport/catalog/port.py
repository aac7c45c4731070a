"""The catalog operations a command needs, whoever answers them: :class:`CatalogPort`.

:class:`~modelport.catalog.service.CatalogService` (the local store) is one; a server's catalog
seen through :class:`modelport.Client` is another (``cli/catalog_remote.py``). Both return the
records of :mod:`modelport.catalog.domain`, so a command that prints them has one code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from modelport.catalog.domain import ModuleRecord, SearchPage, VersionRecord


class CatalogPort(Protocol):
    """Reading a catalog and managing its modules; errors are modelport's own exceptions."""

    def search(
        self,
        query: str = "",
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        sort: str = "relevance",
        limit: int = 20,
        offset: int = 0,
        include_deprecated: bool = False,
    ) -> SearchPage:
        """One page of modules matching ``query`` and ``filters`` (facet -> values)."""
        ...

    def module(self, name: str) -> ModuleRecord:
        """A module."""
        ...

    def version(self, name: str, ref: str = "latest") -> VersionRecord:
        """A version (a number or an alias) of a module."""
        ...

    def versions(self, name: str) -> list[VersionRecord]:
        """A module's versions, highest first (not the yanked ones)."""
        ...

    def set_alias(self, name: str, alias: str, version: str) -> ModuleRecord:
        """Point an alias at a version; the module."""
        ...

    def deprecate(
        self, name: str, deprecated: bool = True, message: str | None = None
    ) -> ModuleRecord:
        """Flag (or unflag) a module as deprecated; the module."""
        ...

    def yank(
        self, name: str, version: str, reason: str, *, yanked_by: str | None = None
    ) -> VersionRecord:
        """Yank an exact version (``yanked_by``: who, where the catalog does not know)."""
        ...

    def unyank(self, name: str, version: str) -> VersionRecord:
        """Undo a yank; the version."""
        ...
