"""What the registry refuses before it writes, and the errors it raises for it.

Module names are URL- and path-safe; a 'group' module names at least one group; a yank says
why, in at most ``MAX_REASON`` characters. A training job is published once
(``already_published``), and a module whose every version is yanked has no ``latest``
(``all_yanked``). ``modelport.catalog.registry`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from modelport.catalog.domain import NAME_PATTERN, Visibility
from modelport.db.tables import catalog_versions
from modelport.errors import Conflict, InvalidInput, NotFound


def check_visibility(visibility: Visibility, groups: Sequence[str]) -> list[str]:
    """The groups to store for ``visibility``; InvalidInput for a 'group' module without any."""
    chosen = sorted({g.strip() for g in groups if g.strip()})
    if any(len(g) > 200 for g in chosen):
        raise InvalidInput({"groups": ["Group names have at most 200 characters."]})
    if visibility is Visibility.GROUP and not chosen:
        raise InvalidInput({"groups": ["A 'group' module needs at least one group."]})
    return chosen if visibility is Visibility.GROUP else []


#: The longest yank reason kept.
MAX_REASON = 1000


def check_reason(reason: object) -> str:
    """A yank's reason, stripped; InvalidInput (``reason``) when empty or too long."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput({"reason": ["say why the version is yanked (e.g. 'wrong weights')"]})
    if len(text) > MAX_REASON:
        raise InvalidInput({"reason": [f"a reason has at most {MAX_REASON} characters"]})
    return text


def already_published(job_id: str, module: str, version: str) -> Conflict:
    """The error for a second publish of a job."""
    return Conflict(f"job {job_id} is already published as {module} {version}")


def all_yanked(name: str) -> NotFound:
    """The error for ``latest`` of a module whose every version is yanked."""
    return NotFound(
        f"every version of module '{name}' is yanked: there is no latest version; a yanked "
        "version still answers by its exact number (versions/<version>)"
    )


def check_name(name: str) -> None:
    """Module names: lowercase letters, digits, '.', '_' and '-' (URL- and path-safe)."""
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            {"name": ["Must be lowercase letters, digits, '.', '_' or '-' (1-200 characters)."]}
        )


def check_same_kind(conn: Connection, name: str, pipeline: bool) -> None:
    """A module's versions are all models or all pipelines; Conflict for a mix."""
    row = conn.execute(
        select(catalog_versions.c.pipeline).where(catalog_versions.c.module == name).limit(1)
    ).first()
    if row is not None and (row.pipeline is not None) != pipeline:
        kind, other = (
            ("a pipeline", "model") if row.pipeline is not None else ("a model", "pipeline")
        )
        raise Conflict(f"module '{name}' is {kind}: a {other} cannot be a version of it")


def pipeline_modules(conn: Connection) -> set[str]:
    """The modules whose versions are pipelines."""
    query = select(catalog_versions.c.module).where(catalog_versions.c.pipeline.is_not(None))
    return set(conn.execute(query.distinct()).scalars())
