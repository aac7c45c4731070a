"""A module's ``latest`` version and what follows it, written inside the registry's transactions.

``latest`` is the highest version by PEP 440 order (``version_key``) that is not yanked. Moving
it moves the ``latest`` alias, the module's title and summary, its facet terms
(``catalog_terms``) and its full-text search text (``catalog_fts`` on SQLite, the
``search_text`` column on PostgreSQL) together; a module whose every version is yanked has no
latest version and no ``latest`` alias. Every function here takes the open connection of the
caller's transaction (see ``modelport.catalog.registry``).
"""

from __future__ import annotations

from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import Connection, delete, insert, select, text, update

from modelport.catalog.domain import FACETS, LATEST
from modelport.catalog.metadata import ModuleMetadata, stored_metadata
from modelport.db.tables import catalog_aliases, catalog_modules, catalog_terms, catalog_versions


def version_key(version: str) -> tuple[int, Any]:
    """Sort key: PEP 440 versions in order, anything else after them as text."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def facet_terms(meta: ModuleMetadata) -> set[tuple[str, str]]:
    """The (facet, value) pairs a version contributes to facet counts and filters."""
    dumped = meta.model_dump(by_alias=True, mode="json")
    terms: set[tuple[str, str]] = set()
    for facet in FACETS:
        value = dumped.get(facet)
        values = value if isinstance(value, list) else [value] if value else []
        terms.update((facet, str(v)[:200]) for v in values)
    return terms


def write_alias(conn: Connection, name: str, alias: str, version: str) -> None:
    """Point ``alias`` of module ``name`` at ``version`` (replacing where it pointed)."""
    conn.execute(
        delete(catalog_aliases).where(
            catalog_aliases.c.module == name, catalog_aliases.c.alias == alias
        )
    )
    conn.execute(insert(catalog_aliases).values(module=name, alias=alias, version=version))


def refresh_latest(conn: Connection, dialect: str, name: str, now: Any) -> None:
    """Point ``latest`` at the highest version not yanked; none when all are yanked."""
    rows = conn.execute(
        select(catalog_versions.c.version, catalog_versions.c.metadata).where(
            catalog_versions.c.module == name, catalog_versions.c.yanked_at.is_(None)
        )
    ).all()
    if rows:
        best = max(rows, key=lambda r: version_key(r.version))
        make_latest(conn, dialect, name, best.version, stored_metadata(best.metadata), now=now)
        return
    conn.execute(
        update(catalog_modules)
        .where(catalog_modules.c.name == name)
        .values(latest_version=None, updated_at=now)
    )
    conn.execute(
        delete(catalog_aliases).where(
            catalog_aliases.c.module == name, catalog_aliases.c.alias == LATEST
        )
    )


def make_latest(
    conn: Connection, dialect: str, name: str, version: str, meta: ModuleMetadata, *, now: Any
) -> None:
    """Make ``version`` (described by ``meta``) the module's latest, with all that follows."""
    conn.execute(
        update(catalog_modules)
        .where(catalog_modules.c.name == name)
        .values(title=meta.title, summary=meta.summary, latest_version=version, updated_at=now)
    )
    write_alias(conn, name, LATEST, version)
    conn.execute(delete(catalog_terms).where(catalog_terms.c.module == name))
    terms = facet_terms(meta)
    if terms:
        conn.execute(
            insert(catalog_terms),
            [{"module": name, "facet": f, "value": v} for f, v in sorted(terms)],
        )
    index_text(conn, dialect, name, meta)


def index_text(conn: Connection, dialect: str, name: str, meta: ModuleMetadata) -> None:
    """The module's full-text search text, from its latest version (``dialect``: the engine's)."""
    tags = " ".join(meta.tags)
    if dialect == "sqlite":
        conn.execute(text("DELETE FROM catalog_fts WHERE name = :name"), {"name": name})
        conn.execute(
            text(
                "INSERT INTO catalog_fts (name, title, summary, description, tags) "
                "VALUES (:name, :title, :summary, :description, :tags)"
            ),
            {
                "name": name,
                "title": meta.title,
                "summary": meta.summary,
                "description": meta.description,
                "tags": tags,
            },
        )
    elif dialect == "postgresql":
        conn.execute(
            text("UPDATE catalog_modules SET search_text = :t WHERE name = :name"),
            {"t": f"{meta.description} {tags} {name}", "name": name},
        )
