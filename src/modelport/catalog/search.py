"""Full-text search with facets over the registry's modules (their latest versions).

Ranked full text: SQLite FTS5 (bm25; title weighted over summary, description, tags) or
PostgreSQL (``ts_rank`` over a weighted tsvector). Filters are facet values (all must match);
facet counts are computed over every match, before pagination.

Visibility: given an ``Audience``, only the modules it may see match (and count in the facets):
public ones, its own, and 'group' ones shared with one of its groups -- one extra OR with an
EXISTS on ``catalog_module_groups``' primary key. Admins and auth-off mode pass no audience and
pay nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    String,
    and_,
    column,
    exists,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from modelport.catalog.domain import FACETS, Audience, SearchHit, SearchPage, Visibility
from modelport.db.tables import (
    catalog_module_groups,
    catalog_modules,
    catalog_terms,
    catalog_versions,
)
from modelport.errors import InvalidInput

SORTS = ("relevance", "name", "updated", "created")
_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_query(query: str) -> str:
    """User text as an FTS5 query: every word must match, the last one as a prefix."""
    words = _WORD.findall(query)
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def tsquery_text(query: str) -> str:
    """User text as a PostgreSQL tsquery: every word must match, the last one as a prefix."""
    words = _WORD.findall(query)
    if not words:
        return ""
    return " & ".join([*words[:-1], f"{words[-1]}:*"])


def visible_to(audience: Audience) -> ColumnElement[bool]:
    """SQL: the module (a ``catalog_modules`` row) is visible to ``audience``."""
    shown = [
        catalog_modules.c.visibility == Visibility.PUBLIC.value,
        catalog_modules.c.owner == audience.subject,
    ]
    if audience.groups:
        shown.append(
            and_(
                catalog_modules.c.visibility == Visibility.GROUP.value,
                exists().where(
                    catalog_module_groups.c.module == catalog_modules.c.name,
                    catalog_module_groups.c.group_name.in_(sorted(set(audience.groups))),
                ),
            )
        )
    return or_(*shown)


def search(
    engine: Engine,
    query: str = "",
    *,
    filters: Mapping[str, Sequence[str]] | None = None,
    include_deprecated: bool = False,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
    audience: Audience | None = None,
) -> SearchPage:
    """One page of modules matching ``query`` and ``filters``, seen by ``audience``, with facets."""
    if sort not in SORTS:
        raise InvalidInput({"sort": [f"Must be one of: {', '.join(SORTS)}."]})
    unknown = set(filters or {}) - set(FACETS)
    if unknown:
        raise InvalidInput(
            {f: [f"Unknown facet; use one of: {', '.join(FACETS)}."] for f in unknown}
        )
    conditions: list[ColumnElement[bool]] = []
    if not include_deprecated:
        conditions.append(catalog_modules.c.deprecated.is_(False))
    if audience is not None:
        conditions.append(visible_to(audience))
    for facet, values in (filters or {}).items():
        for value in values:
            conditions.append(
                catalog_modules.c.name.in_(
                    select(catalog_terms.c.module).where(
                        catalog_terms.c.facet == facet, catalog_terms.c.value == value
                    )
                )
            )
    score: Any = None
    words = query.strip()
    if words:
        if engine.dialect.name == "sqlite":
            matched = fts5_query(words)
            if not matched:
                return SearchPage(total=0, limit=limit, offset=offset, modules=[], facets={})
            ranked = (
                text(
                    "SELECT name, bm25(catalog_fts, 0.0, 10.0, 4.0, 1.0, 3.0) AS score "
                    "FROM catalog_fts WHERE catalog_fts MATCH :q"
                )
                .bindparams(q=matched)
                .columns(column("name", String), column("score", Float))
                .subquery("ranked")
            )
            score = -ranked.c.score  # bm25: lower is better
            base = select(catalog_modules, score.label("score")).join(
                ranked, ranked.c.name == catalog_modules.c.name
            )
        else:
            matched = tsquery_text(words)
            if not matched:
                return SearchPage(total=0, limit=limit, offset=offset, modules=[], facets={})
            score = func.ts_rank(
                text("catalog_modules.search"), func.to_tsquery("english", matched)
            )
            base = select(catalog_modules, score.label("score")).where(
                text("catalog_modules.search @@ to_tsquery('english', :q)").bindparams(q=matched)
            )
    else:
        base = select(catalog_modules)
    where = and_(true(), *conditions)
    matches = base.where(where).subquery("matches")
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(matches)).scalar_one()
        order: list[Any] = {
            "relevance": [matches.c.score.desc(), matches.c.name]
            if score is not None
            else [matches.c.name],
            "name": [matches.c.name],
            "updated": [matches.c.updated_at.desc(), matches.c.name],
            "created": [matches.c.created_at.desc(), matches.c.name],
        }[sort]
        rows = conn.execute(select(matches).order_by(*order).limit(limit).offset(offset)).all()
        counts = conn.execute(
            select(catalog_terms.c.facet, catalog_terms.c.value, func.count())
            .where(catalog_terms.c.module.in_(select(matches.c.name)))
            .group_by(catalog_terms.c.facet, catalog_terms.c.value)
        ).all()
        names = [r.name for r in rows]
        meta = (
            dict(
                conn.execute(
                    select(catalog_versions.c.module, catalog_versions.c.metadata).where(
                        catalog_versions.c.module.in_(names),
                        catalog_versions.c.version == catalog_modules.c.latest_version,
                        catalog_modules.c.name == catalog_versions.c.module,
                    )
                ).all()
            )
            if names
            else {}
        )
    facets: dict[str, dict[str, int]] = {f: {} for f in FACETS}
    for facet, value, count in counts:
        facets.setdefault(facet, {})[value] = int(count)
    for facet, found in facets.items():
        facets[facet] = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    hits = []
    for row in rows:
        data = meta.get(row.name, {})
        hits.append(
            SearchHit(
                name=row.name,
                title=row.title,
                summary=row.summary,
                latest_version=row.latest_version,
                deprecated=row.deprecated,
                visibility=row.visibility,
                tags=data.get("tags", []),
                libraries=data.get("libraries", []),
                tasks=data.get("tasks", []),
                score=float(row.score) if score is not None else None,
            )
        )
    return SearchPage(total=int(total), limit=limit, offset=offset, modules=hits, facets=facets)
