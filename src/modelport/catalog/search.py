"""Full-text search with facets over the registry's modules (their latest versions).

Ranked full text: SQLite FTS5 (bm25; title weighted over summary, description, tags) or
PostgreSQL (``ts_rank`` over a weighted tsvector). Filters are facet values (all must match);
facet counts are computed over every match, before pagination.

Visibility: given an ``Audience``, only the modules it may see match (and count in the facets):
public ones, its own, and 'group' ones shared with one of its groups -- one extra OR with an
EXISTS on ``catalog_module_groups``' primary key. Admins and auth-off mode pass no audience and
pay nothing for it.

Yanked versions are never a module's latest, so they are never what a hit shows; a module whose
every version is yanked (no latest) matches only with ``include_yanked``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
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
from modelport.catalog.generation import read_generation
from modelport.db.tables import (
    catalog_module_groups,
    catalog_modules,
    catalog_terms,
    catalog_versions,
)
from modelport.errors import InvalidInput

SORTS = ("relevance", "name", "updated", "created")
_FEW = 500  # up to this many matches, the page query selects them by name
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


@dataclass(frozen=True)
class _FacetIndex:
    """The catalog's facet terms as bitsets (one bit per module), for one catalog generation.

    Counting a facet value over a match set is then ``(term & matches).bit_count()``: no SQL
    join of ``catalog_terms`` against the matches, which dominated a search's time.
    """

    generation: int
    order: list[str]  # bit -> module name
    position: dict[str, int]  # module name -> bit
    every: int  # all modules
    live: int  # the modules that are not deprecated
    yanked: int  # the modules whose every version is yanked (no latest version)
    terms: dict[tuple[str, str], int]  # (facet, value) -> its modules

    def names(self, bits: int) -> list[str]:
        """The module names in ``bits``."""
        raw = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        return [
            self.order[at * 8 + bit]
            for at, byte in enumerate(raw)
            if byte
            for bit in range(8)
            if byte >> bit & 1
        ]

    def bits(self, names: Iterable[str]) -> int:
        """The bitset of ``names`` (names unknown to this generation are left out)."""
        found = bytearray((len(self.position) + 8) // 8)
        for name in names:
            at = self.position.get(name)
            if at is not None:
                found[at >> 3] |= 1 << (at & 7)
        return int.from_bytes(found, "little")


class FacetIndexes:
    """Keeps the facet index of one catalog (engine) across searches; thread-safe.

    Owned by whoever searches repeatedly (``CatalogService``); a search without one builds the
    index for itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: _FacetIndex | None = None

    def current(self, conn: Connection) -> _FacetIndex:
        """The index of the catalog's current generation (rebuilt when it changed)."""
        generation = _generation(conn)
        index = self._index
        if index is None or index.generation != generation:
            index = _build_index(conn, generation)
            with self._lock:
                self._index = index
        return index


def _generation(conn: Connection) -> int:
    """The catalog's generation (``catalog.generation``): every registry write, on any replica
    sharing the database, moves it, in the write's own transaction.

    Read before the index is built: an index built of newer rows than its generation says is
    only rebuilt once more, never kept stale.
    """
    return read_generation(conn)


def _build_index(conn: Connection, generation: int) -> _FacetIndex:
    """The facet index of the catalog as ``conn`` sees it now."""
    modules = conn.execute(
        select(
            catalog_modules.c.name, catalog_modules.c.deprecated, catalog_modules.c.latest_version
        )
    ).all()
    position = {name: at for at, (name, _, _) in enumerate(modules)}
    size = (len(modules) + 8) // 8
    every = bytearray(size)
    live = bytearray(size)
    yanked = bytearray(size)
    for at, (_, deprecated, latest) in enumerate(modules):
        every[at >> 3] |= 1 << (at & 7)
        if not deprecated:
            live[at >> 3] |= 1 << (at & 7)
        if latest is None:
            yanked[at >> 3] |= 1 << (at & 7)
    terms: dict[tuple[str, str], bytearray] = {}
    for module, facet, value in conn.execute(
        select(catalog_terms.c.module, catalog_terms.c.facet, catalog_terms.c.value)
    ):
        bit = position.get(module)
        if bit is None:  # published after the modules were read: the next generation has it
            continue
        term = terms.get((facet, value))
        if term is None:
            term = terms[(facet, value)] = bytearray(size)
        term[bit >> 3] |= 1 << (bit & 7)
    return _FacetIndex(
        generation=generation,
        order=[name for name, _, _ in modules],
        position=position,
        every=int.from_bytes(every, "little"),
        live=int.from_bytes(live, "little"),
        yanked=int.from_bytes(yanked, "little"),
        terms={key: int.from_bytes(bits, "little") for key, bits in terms.items()},
    )


def _found(
    conn: Connection,
    index: _FacetIndex,
    *,
    filters: Mapping[str, Sequence[str]] | None,
    include_deprecated: bool,
    include_yanked: bool,
    audience: Audience | None,
    full_text: Sequence[str] | None,
) -> int:
    """The bitset of the matches: filters, deprecation, yanking, the audience's view, the full
    text."""
    found = index.every if include_deprecated else index.live
    if not include_yanked:
        found &= ~index.yanked
    for facet, values in (filters or {}).items():
        for value in values:
            found &= index.terms.get((facet, value), 0)
    if audience is not None and found:
        visible = conn.execute(select(catalog_modules.c.name).where(visible_to(audience)))
        found &= index.bits(visible.scalars().all())
    if full_text is not None and found:
        found &= index.bits(full_text)
    return found


def _facet_counts(index: _FacetIndex, found: int) -> dict[str, dict[str, int]]:
    """Each facet value's number of matches (values without any left out), most first."""
    facets: dict[str, dict[str, int]] = {f: {} for f in FACETS}
    for (facet, value), bits in index.terms.items():
        if count := (bits & found).bit_count():
            facets.setdefault(facet, {})[value] = count
    for facet, counted in facets.items():
        facets[facet] = dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))
    return facets


def _score(row: Any, bm25: Mapping[str, float] | None) -> float:
    """A hit's relevance: ``row.score`` from SQL, or minus its bm25 (SQLite, lower is better)."""
    return -bm25[row.name] if bm25 is not None else float(row.score)


def _conditions(
    filters: Mapping[str, Sequence[str]] | None,
    include_deprecated: bool,
    include_yanked: bool,
    audience: Audience | None,
) -> list[ColumnElement[bool]]:
    """SQL: the deprecation, yanking, visibility and facet filters on ``catalog_modules``."""
    conditions: list[ColumnElement[bool]] = []
    if not include_deprecated:
        conditions.append(catalog_modules.c.deprecated.is_(False))
    if not include_yanked:
        conditions.append(catalog_modules.c.latest_version.is_not(None))
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
    return conditions


def _full_text(engine: Engine, words: str) -> tuple[Any, Any, Any] | None:
    """The score, the ranked select of the matching modules and the SQL of the matches' names
    (SQLite: with their bm25) for ``words``; None when they hold no word at all."""
    score: Any
    if engine.dialect.name == "sqlite":
        matched = fts5_query(words)
        if not matched:
            return None
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
        names = text(  # the same bm25 as ``ranked``: the page can be ranked in Python
            "SELECT name, bm25(catalog_fts, 0.0, 10.0, 4.0, 1.0, 3.0) "
            "FROM catalog_fts WHERE catalog_fts MATCH :q"
        )
    else:
        matched = tsquery_text(words)
        if not matched:
            return None
        score = func.ts_rank(text("catalog_modules.search"), func.to_tsquery("english", matched))
        base = select(catalog_modules, score.label("score")).where(
            text("catalog_modules.search @@ to_tsquery('english', :q)").bindparams(q=matched)
        )
        names = text("SELECT name FROM catalog_modules WHERE search @@ to_tsquery('english', :q)")
    return score, base, names.bindparams(q=matched)


def _hits(
    conn: Connection, rows: Sequence[Any], bm25: Mapping[str, float] | None, scored: bool
) -> list[SearchHit]:
    """The page's rows as hits, with tags, libraries and tasks from their latest version."""
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
                score=_score(row, bm25) if scored else None,
            )
        )
    return hits


def search(
    engine: Engine,
    query: str = "",
    *,
    filters: Mapping[str, Sequence[str]] | None = None,
    include_deprecated: bool = False,
    include_yanked: bool = False,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
    audience: Audience | None = None,
    facet_indexes: FacetIndexes | None = None,
) -> SearchPage:
    """One page of modules matching ``query`` and ``filters``, seen by ``audience``, with facets.

    The total and the facet counts come from the facet index (bitsets; see ``_FacetIndex``) and
    one query of the full-text matches' names; only the page itself is selected with SQL.
    """
    if sort not in SORTS:
        raise InvalidInput({"sort": [f"Must be one of: {', '.join(SORTS)}."]})
    unknown = set(filters or {}) - set(FACETS)
    if unknown:
        raise InvalidInput(
            {f: [f"Unknown facet; use one of: {', '.join(FACETS)}."] for f in unknown}
        )
    score: Any = None
    names_sql: Any = None  # the full-text matches' names (None: no words)
    base: Any = select(catalog_modules)
    words = query.strip()
    if words:
        found_text = _full_text(engine, words)
        if found_text is None:
            return SearchPage(total=0, limit=limit, offset=offset, modules=[], facets={})
        score, base, names_sql = found_text
    matches = base.where(
        and_(true(), *_conditions(filters, include_deprecated, include_yanked, audience))
    ).subquery("matches")
    with engine.connect() as conn:
        index = (facet_indexes or FacetIndexes()).current(conn)
        bm25: dict[str, float] | None = None  # SQLite: each full-text match's bm25
        full_text: list[str] | None = None
        if names_sql is not None:
            fts = conn.execute(names_sql).all()
            full_text = [r[0] for r in fts]
            if engine.dialect.name == "sqlite":
                bm25 = {r[0]: r[1] for r in fts}
        found = _found(
            conn,
            index,
            filters=filters,
            include_deprecated=include_deprecated,
            include_yanked=include_yanked,
            audience=audience,
            full_text=full_text,
        )
        total = found.bit_count()
        if total <= _FEW:  # the page from the few matches, not the filters' subqueries again
            matches = base.where(catalog_modules.c.name.in_(index.names(found))).subquery()
        order: list[Any] = {
            "relevance": [matches.c.score.desc(), matches.c.name]
            if score is not None
            else [matches.c.name],
            "name": [matches.c.name],
            "updated": [matches.c.updated_at.desc(), matches.c.name],
            "created": [matches.c.created_at.desc(), matches.c.name],
        }[sort]
        rows: Sequence[Any]
        if offset >= total:
            rows = []
        elif bm25 is not None and sort == "relevance":  # ranked here: by bm25, then name
            ranked = sorted(index.names(found), key=lambda name: (bm25[name], name))
            shown = ranked[offset : offset + limit]
            fetched = conn.execute(
                select(catalog_modules).where(catalog_modules.c.name.in_(shown))
            ).all()
            by_name = {r.name: r for r in fetched}
            rows = [by_name[name] for name in shown if name in by_name]
        else:
            rows = conn.execute(select(matches).order_by(*order).limit(limit).offset(offset)).all()
        hits = _hits(conn, rows, bm25, score is not None)
    counts = _facet_counts(index, found)
    return SearchPage(total=total, limit=limit, offset=offset, modules=hits, facets=counts)
