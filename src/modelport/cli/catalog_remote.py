"""The catalog a ``catalog`` command acts on: the local store or a server's (``--url``).

:func:`open_catalog` gives either as a :class:`~modelport.catalog.port.CatalogPort` and says on
stderr which it is; :class:`RemoteCatalog` is a server's catalog through :class:`modelport.Client`,
its JSON validated into the records of :mod:`modelport.catalog.domain`. (It lives here rather
than in ``modelport.client``: the client importing the catalog package would close an import
cycle through the ``modelport`` facade.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import ConfigDict

from modelport.catalog.domain import ModuleRecord, SearchPage, VersionRecord
from modelport.cli.exits import cli_errors
from modelport.cli.target import remote, say_local

if TYPE_CHECKING:
    from modelport.catalog.port import CatalogPort
    from modelport.catalog.service import CatalogService
    from modelport.client import Client
    from modelport.settings import Settings


class ServedModule(ModuleRecord):
    """A module as a server answers it: the record, with what the server adds kept as it is
    (``latest``: a summary of its latest version), so its JSON is the server's."""

    model_config = ConfigDict(extra="allow")


class RemoteCatalog:
    """A server's catalog (a :class:`~modelport.catalog.port.CatalogPort`) over ``client``."""

    def __init__(self, client: Client) -> None:
        self.client = client

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
        params = {key.replace("-", "_"): values for key, values in (filters or {}).items()}
        doc = self.client.search(
            query,
            **params,
            sort=sort,
            limit=limit,
            offset=offset,
            include_deprecated=include_deprecated,
        )
        return SearchPage.model_validate(doc)

    def module(self, name: str) -> ModuleRecord:
        return ServedModule.model_validate(self.client.module(name))

    def version(self, name: str, ref: str = "latest") -> VersionRecord:
        return VersionRecord.model_validate(self.client.version(name, ref))

    def versions(self, name: str) -> list[VersionRecord]:
        return [VersionRecord.model_validate(doc) for doc in self.client.versions(name)]

    def set_alias(self, name: str, alias: str, version: str) -> ModuleRecord:
        return ServedModule.model_validate(self.client.set_alias(name, alias, version))

    def deprecate(
        self, name: str, deprecated: bool = True, message: str | None = None
    ) -> ModuleRecord:
        return ServedModule.model_validate(self.client.deprecate(name, deprecated, message))

    def yank(
        self, name: str, version: str, reason: str, *, yanked_by: str | None = None
    ) -> VersionRecord:
        # the server records who yanked it: the token's identity
        return VersionRecord.model_validate(self.client.yank(name, version, reason))

    def unyank(self, name: str, version: str) -> VersionRecord:
        return VersionRecord.model_validate(self.client.unyank(name, version))


def local_service(settings: Settings | None = None, elsewhere: str = "") -> CatalogService:
    """The local catalog (said on stderr, with ``elsewhere``: how to use a server's instead)."""
    from modelport.catalog.setup import build_catalog_service
    from modelport.settings import Settings

    settings = settings or Settings()
    say_local("catalog", settings, elsewhere)
    return build_catalog_service(settings)


@contextmanager
def open_catalog(url: str | None, token: str | None) -> Iterator[CatalogPort]:
    """The server's catalog at ``url`` if given, else the local store (said on stderr). Errors
    inside end the command: a server's with ``<status>: <message>``, the store's as
    :func:`~modelport.cli.exits.cli_errors` maps them (both exit codes of ``cli/exits.py``)."""
    if url is not None:
        with remote(url, token) as client:
            yield RemoteCatalog(client)
        return
    with cli_errors():
        yield local_service()
