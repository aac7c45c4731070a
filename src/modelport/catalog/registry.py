"""The module registry over the database (SQLite or PostgreSQL): publish, read, alias, deprecate.

Versions are immutable: publishing an existing one is a Conflict. Each publish moves the
``latest`` alias (and the module's search text and facet terms) to the highest version by
PEP 440 order; other aliases (``stable``, user-defined) move only when set.

A version can be yanked (with a reason) and unyanked. A yanked version is never ``latest`` (it
moves to the highest version left; a module whose every version is yanked has none) and is
left out of version listings, but its exact number still names it, so that whatever used it
can be reproduced. Aliases already pointing at it keep pointing at it (the module lists it in
``yanked_versions``); a new alias cannot be pointed at it.

A version published from a training job records the job (``job_id``), and
``catalog_job_versions`` the version the job became, in the same transaction: a job is
published once, a second publish is a Conflict naming the version.

Each module has a visibility (public, group, private; see ``Visibility``); the registry stores
it and filters name listings by an ``Audience``. Whether a caller may read or change a module
is decided by ``modelport.auth.policy``.

Every write moves the catalog's generation on in its own transaction (``catalog.generation``):
that is how the caches of every replica learn of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from modelport.catalog.domain import (
    LATEST,
    ArtifactRecord,
    Audience,
    Lineage,
    ModuleRecord,
    NewVersion,
    VersionRecord,
    Visibility,
)
from modelport.catalog.generation import CatalogGeneration, bump
from modelport.catalog.metadata import ModuleMetadata
from modelport.catalog.registry_checks import (
    MAX_REASON,
    all_yanked,
    already_published,
    check_name,
    check_reason,
    check_same_kind,
    check_visibility,
)
from modelport.catalog.registry_latest import (
    facet_terms,
    make_latest,
    refresh_latest,
    version_key,
    write_alias,
)
from modelport.catalog.search import visible_to
from modelport.catalog.versions import check_alias, check_version
from modelport.db.engine import transaction
from modelport.db.tables import (
    catalog_aliases,
    catalog_artifacts,
    catalog_job_versions,
    catalog_module_groups,
    catalog_modules,
    catalog_versions,
)
from modelport.errors import Conflict, Forbidden, NotFound
from modelport.jobs.domain import utcnow

# The checks and errors live in catalog/registry_checks.py, the latest-version bookkeeping in
# catalog/registry_latest.py; they are re-exported for the registry's callers.
__all__ = [
    "MAX_REASON",
    "Registry",
    "all_yanked",
    "already_published",
    "check_name",
    "check_reason",
    "check_visibility",
    "facet_terms",
    "version_key",
]


class Registry:
    """Modules and their versions in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: moved on by every write below (last in its transaction), read by catalog caches
        self.generation = CatalogGeneration(engine)

    def _tx(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine)

    # -- writes -------------------------------------------------------------------------------

    def publish(
        self, name: str, version: str, meta: ModuleMetadata, **fields: Any
    ) -> VersionRecord:
        """Add ``name version`` with ``meta``: :meth:`add` of a :class:`NewVersion` made of
        these and ``fields`` (its other fields), for scripts and tests."""
        given = {key: value for key, value in fields.items() if value is not None}
        return self.add(NewVersion(name, version, meta, **given))

    def add(self, new: NewVersion) -> VersionRecord:
        """Add an immutable version (creating its module); Conflict if it already exists."""
        check_name(new.name)
        check_version(new.version)
        chosen = (
            check_visibility(new.visibility, new.groups) if new.visibility is not None else None
        )
        now = utcnow()
        with self._tx() as conn:
            latest = self._claim_module(conn, new, chosen, now)
            check_same_kind(conn, new.name, new.pipeline is not None)
            exists = conn.execute(
                select(catalog_versions.c.version).where(
                    catalog_versions.c.module == new.name,
                    catalog_versions.c.version == new.version,
                )
            ).first()
            if exists is not None:
                raise Conflict(
                    f"{new.name} {new.version} is already published; versions are immutable"
                )
            if new.lineage.job_id is not None:
                self._record_publication(conn, new.lineage.job_id, new.name, new.version)
            self._insert_version(conn, new, now)
            if latest is None or version_key(new.version) >= version_key(latest):
                make_latest(conn, self.dialect, new.name, new.version, new.meta, now=now)
            bump(conn)
        return self.version(new.name, new.version)

    def _claim_module(
        self, conn: Connection, new: NewVersion, chosen: list[str] | None, now: datetime
    ) -> str | None:
        """Create ``new``'s module, or lock it and check its owner (and apply a new visibility);
        the module's latest version before this one."""
        module = conn.execute(
            select(catalog_modules).where(catalog_modules.c.name == new.name).with_for_update()
        ).first()
        if module is None:
            conn.execute(
                insert(catalog_modules).values(
                    name=new.name,
                    title=new.meta.title,
                    summary=new.meta.summary,
                    owner=new.published_by,
                    deprecated=False,
                    created_at=now,
                    updated_at=now,
                    visibility=(new.visibility or Visibility.PUBLIC).value,
                )
            )
        elif new.expect_owner is not None and module.owner != new.expect_owner:
            raise Forbidden(
                f"module '{new.name}' belongs to someone else: only its owner or an admin may "
                "publish new versions of it"
            )
        if new.visibility is not None and chosen is not None:
            self._set_visibility(conn, new.name, new.visibility, chosen)
        return module.latest_version if module is not None else None

    @staticmethod
    def _insert_version(conn: Connection, new: NewVersion, now: datetime) -> None:
        """The version's row and its artifacts' rows."""
        conn.execute(
            insert(catalog_versions).values(
                module=new.name,
                version=new.version,
                # without nulls: what the AI4OS views serve must pass AI4OS's schema
                metadata=new.meta.model_dump(by_alias=True, mode="json", exclude_none=True),
                load_spec=new.load_spec,
                package=new.package,
                source_url=new.source_url,
                commit=new.commit,
                published_by=new.published_by,
                published_at=now,
                job_id=new.lineage.job_id,
                base_version=new.lineage.base_version,
                data_url=new.lineage.data_url,
                pipeline=new.pipeline,
            )
        )
        for artifact in new.artifacts:
            conn.execute(
                insert(catalog_artifacts).values(
                    module=new.name, version=new.version, **artifact.model_dump()
                )
            )

    @staticmethod
    def _record_publication(conn: Connection, job_id: str, name: str, version: str) -> None:
        """Record that the job became ``name version``; Conflict if it already became one.

        Its row's primary key is the job: of two publishes of one job at once, the second
        insert fails (a Conflict too) when the first commits.
        """
        earlier = conn.execute(
            select(catalog_job_versions.c.module, catalog_job_versions.c.version).where(
                catalog_job_versions.c.job_id == job_id
            )
        ).first()
        if earlier is not None:
            raise already_published(job_id, earlier.module, earlier.version)
        conn.execute(
            insert(catalog_job_versions).values(job_id=job_id, module=name, version=version)
        )

    def publication(self, job_id: str) -> tuple[str, str] | None:
        """``(module, version)`` a job was published as; None if it was not (or is unknown)."""
        with self._tx() as conn:
            found = conn.execute(
                select(catalog_job_versions.c.module, catalog_job_versions.c.version).where(
                    catalog_job_versions.c.job_id == job_id
                )
            ).first()
        return (str(found.module), str(found.version)) if found is not None else None

    # -- yanking ------------------------------------------------------------------------------

    def yank(self, name: str, version: str, reason: str, by: str | None = None) -> VersionRecord:
        """Yank a version (an exact number, not an alias): hidden from latest and listings."""
        reason = check_reason(reason)
        with self._tx() as conn:
            row = self._lock_version(conn, name, version)
            if row.yanked_at is not None:
                raise Conflict(
                    f"{name} {version} is already yanked ({row.yanked_reason}): unyank it first "
                    "to change the reason"
                )
            now = utcnow()
            conn.execute(
                update(catalog_versions)
                .where(catalog_versions.c.module == name, catalog_versions.c.version == version)
                .values(yanked_at=now, yanked_by=by, yanked_reason=reason)
            )
            refresh_latest(conn, self.dialect, name, now)
            bump(conn)
        return self.version(name, version)

    def unyank(self, name: str, version: str) -> VersionRecord:
        """Undo a yank: the version is listed again (and latest again if it is the highest)."""
        with self._tx() as conn:
            row = self._lock_version(conn, name, version)
            if row.yanked_at is None:
                raise Conflict(f"{name} {version} is not yanked")
            conn.execute(
                update(catalog_versions)
                .where(catalog_versions.c.module == name, catalog_versions.c.version == version)
                .values(yanked_at=None, yanked_by=None, yanked_reason=None)
            )
            refresh_latest(conn, self.dialect, name, utcnow())
            bump(conn)
        return self.version(name, version)

    def _lock_version(self, conn: Connection, name: str, version: str) -> Any:
        """The version's row, its module locked (PostgreSQL) until the transaction ends.

        ``version`` must be an exact number: an alias (or anything else) is InvalidInput or
        NotFound, never resolved, so that what is yanked is exactly what was named.
        """
        module = conn.execute(
            select(catalog_modules.c.name).where(catalog_modules.c.name == name).with_for_update()
        ).first()
        if module is None:
            raise NotFound(f"module '{name}' not found")
        row = conn.execute(
            select(catalog_versions.c.yanked_at, catalog_versions.c.yanked_reason).where(
                catalog_versions.c.module == name, catalog_versions.c.version == version
            )
        ).first()
        if row is None:
            check_version(version)  # an alias or a typo: say what is expected
            raise NotFound(f"module '{name}' has no version '{version}'")
        return row

    def set_alias(self, name: str, alias: str, version: str) -> ModuleRecord:
        """Point ``alias`` (e.g. ``stable``) at an existing version; ``latest`` is automatic."""
        check_alias(alias)
        with self._tx() as conn:
            target = self.version(name, version)  # NotFound for an unknown module or version
            if target.yanked:
                raise Conflict(
                    f"{name} {target.version} is yanked ({target.yanked_reason}): point the "
                    "alias at another version, or unyank it first"
                )
            if conn.execute(
                select(catalog_versions.c.version).where(
                    catalog_versions.c.module == name, catalog_versions.c.version == alias
                )
            ).first():
                raise Conflict(f"'{alias}' is a version of {name}: it cannot be an alias")
            write_alias(conn, name, alias, target.version)
            bump(conn)
        return self.module(name)

    def remove_alias(self, name: str, alias: str) -> ModuleRecord:
        """Remove an alias (``latest`` is the registry's own); NotFound if it is not set."""
        check_alias(alias)
        with self._tx() as conn:
            removed = conn.execute(
                delete(catalog_aliases).where(
                    catalog_aliases.c.module == name, catalog_aliases.c.alias == alias
                )
            )
            if removed.rowcount == 0:
                self.module(name)  # NotFound for an unknown module first
                raise NotFound(f"module '{name}' has no alias '{alias}'")
            bump(conn)
        return self.module(name)

    @staticmethod
    def _set_visibility(
        conn: Connection, name: str, visibility: Visibility, groups: list[str]
    ) -> None:
        conn.execute(
            update(catalog_modules)
            .where(catalog_modules.c.name == name)
            .values(visibility=visibility.value)
        )
        conn.execute(delete(catalog_module_groups).where(catalog_module_groups.c.module == name))
        if groups:
            conn.execute(
                insert(catalog_module_groups),
                [{"module": name, "group_name": g} for g in groups],
            )

    def set_visibility(
        self, name: str, visibility: Visibility, groups: Sequence[str] = ()
    ) -> ModuleRecord:
        """Make a module public, visible to ``groups`` ('group'), or private."""
        chosen = check_visibility(visibility, groups)
        with self._tx() as conn:
            found = conn.execute(
                select(catalog_modules.c.name).where(catalog_modules.c.name == name)
            ).first()
            if found is None:
                raise NotFound(f"module '{name}' not found")
            self._set_visibility(conn, name, visibility, chosen)
            conn.execute(
                update(catalog_modules)
                .where(catalog_modules.c.name == name)
                .values(updated_at=utcnow())
            )
            bump(conn)
        return self.module(name)

    def deprecate(
        self, name: str, deprecated: bool = True, message: str | None = None
    ) -> ModuleRecord:
        """Flag (or unflag) a module as deprecated."""
        with self._tx() as conn:
            done = conn.execute(
                update(catalog_modules)
                .where(catalog_modules.c.name == name)
                .values(
                    deprecated=deprecated,
                    deprecation_message=message if deprecated else None,
                    updated_at=utcnow(),
                )
            )
            if done.rowcount == 0:
                raise NotFound(f"module '{name}' not found")
            bump(conn)
        return self.module(name)

    # -- reads --------------------------------------------------------------------------------

    def module(self, name: str) -> ModuleRecord:
        """A module with its aliases; NotFound if unknown."""
        with self._tx() as conn:
            row = conn.execute(
                select(catalog_modules).where(catalog_modules.c.name == name)
            ).first()
            if row is None:
                raise NotFound(f"module '{name}' not found")
            aliases = dict(
                conn.execute(
                    select(catalog_aliases.c.alias, catalog_aliases.c.version).where(
                        catalog_aliases.c.module == name
                    )
                ).all()
            )
            groups = (
                conn.execute(
                    select(catalog_module_groups.c.group_name)
                    .where(catalog_module_groups.c.module == name)
                    .order_by(catalog_module_groups.c.group_name)
                )
                .scalars()
                .all()
            )
            yanked = (
                conn.execute(
                    select(catalog_versions.c.version).where(
                        catalog_versions.c.module == name, catalog_versions.c.yanked_at.is_not(None)
                    )
                )
                .scalars()
                .all()
            )
        data = {c: getattr(row, c) for c in row._fields if c in ModuleRecord.model_fields}
        ordered = sorted(yanked, key=version_key, reverse=True)
        return ModuleRecord(aliases=aliases, groups=list(groups), yanked_versions=ordered, **data)

    def resolve(self, name: str, ref: str = LATEST) -> str:
        """The version a reference (a version or an alias) names."""
        with self._tx() as conn:
            hit = conn.execute(
                select(catalog_versions.c.version).where(
                    catalog_versions.c.module == name, catalog_versions.c.version == ref
                )
            ).first()
            if hit is not None:
                return str(hit.version)
            alias = conn.execute(
                select(catalog_aliases.c.version).where(
                    catalog_aliases.c.module == name, catalog_aliases.c.alias == ref
                )
            ).first()
        if alias is None:
            module = self.module(name)
            if ref == LATEST and module.latest_version is None and module.yanked_versions:
                raise all_yanked(name)
            raise NotFound(f"module '{name}' has no version or alias '{ref}'")
        return str(alias.version)

    def version(self, name: str, ref: str = LATEST) -> VersionRecord:
        """A version (by number or alias) with its artifacts; NotFound if unknown."""
        version = self.resolve(name, ref) if ref == LATEST else ref
        with self._tx() as conn:
            row = conn.execute(
                select(catalog_versions).where(
                    catalog_versions.c.module == name, catalog_versions.c.version == version
                )
            ).first()
            if row is None:
                if ref != LATEST:
                    return self.version(name, self.resolve(name, ref))
                raise NotFound(f"module '{name}' has no version '{ref}'")
            artifacts = conn.execute(
                select(catalog_artifacts)
                .where(catalog_artifacts.c.module == name, catalog_artifacts.c.version == version)
                .order_by(catalog_artifacts.c.name)
            ).all()
        return VersionRecord(
            module=row.module,
            version=row.version,
            metadata=row.metadata,
            load_spec=row.load_spec,
            package=row.package,
            source_url=row.source_url,
            commit=row.commit,
            published_by=row.published_by,
            published_at=row.published_at,
            lineage=Lineage(
                job_id=row.job_id, base_version=row.base_version, data_url=row.data_url
            ),
            artifacts=[
                ArtifactRecord(name=a.name, sha256=a.sha256, size=a.size, media_type=a.media_type)
                for a in artifacts
            ],
            yanked=row.yanked_at is not None,
            yanked_reason=row.yanked_reason,
            yanked_at=row.yanked_at,
            yanked_by=row.yanked_by,
            pipeline=row.pipeline,
        )

    def versions(self, name: str, include_yanked: bool = False) -> list[VersionRecord]:
        """The versions of a module, highest first (yanked ones only with ``include_yanked``)."""
        self.module(name)
        query = select(catalog_versions.c.version).where(catalog_versions.c.module == name)
        if not include_yanked:
            query = query.where(catalog_versions.c.yanked_at.is_(None))
        with self._tx() as conn:
            numbers = conn.execute(query).scalars().all()
        ordered = sorted(numbers, key=version_key, reverse=True)
        return [self.version(name, v) for v in ordered]

    def names(self, audience: Audience | None = None, *, with_latest: bool = False) -> list[str]:
        """Every module name (visible to ``audience``; None: all), sorted; ``with_latest``:
        only those with a latest version (not every version yanked)."""
        query = select(catalog_modules.c.name).order_by(catalog_modules.c.name)
        if audience is not None:
            query = query.where(visible_to(audience))
        if with_latest:
            query = query.where(catalog_modules.c.latest_version.is_not(None))
        with self._tx() as conn:
            return list(conn.execute(query).scalars().all())
