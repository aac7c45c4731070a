"""Catalog use cases: publish (directory, git, training job), bulk import, search, artifacts,
aliases, yanking.

Every way a version enters the catalog ends in :meth:`Registry.publish`, which checks it with
:func:`~modelport.catalog.versions.check_version` (PEP 440 or SemVer); the service checks it
earlier too, before cloning or copying anything.

Methods taking ``principal`` apply :mod:`modelport.auth.policy`: reads show only modules the
caller may see (others are 404), writes need the publisher role and, on an existing module,
its ownership. ``principal=None`` is a trusted in-process caller (the CLI, seeding).
"""

from __future__ import annotations

import mimetypes
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from modelport.auth import policy
from modelport.auth.config import Principal
from modelport.catalog.archives import unpack_project
from modelport.catalog.domain import (
    LATEST,
    ArtifactRecord,
    Lineage,
    ModuleRecord,
    NewVersion,
    SearchPage,
    VersionRecord,
    Visibility,
)
from modelport.catalog.git import GitPolicy, fetch_repository
from modelport.catalog.index import IndexEntryError, describe_error, read_index_modules
from modelport.catalog.job_files import job_artifact_files
from modelport.catalog.metadata import stored_metadata
from modelport.catalog.registry import Registry, already_published
from modelport.catalog.registry_checks import pipeline_modules
from modelport.catalog.search import FacetIndexes, search
from modelport.catalog.sources import ModuleSource, read_module
from modelport.catalog.versions import check_version
from modelport.db.engine import transaction
from modelport.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from modelport.jobs.domain import JobStatus
from modelport.jobs.store import JobStore
from modelport.storage import ArtifactStore
from modelport.storage.paths import relative_name


@dataclass
class ImportReport:
    """What a bulk import did: versions published, already there, and per-entry errors."""

    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    #: modelport's warnings on the metadata of what was published, by "name version"
    warnings: dict[str, list[str]] = field(default_factory=dict)


def _listed_warnings(label: str, warnings: dict[str, list[str]]) -> dict[str, list[str]]:
    listed = [f"{field}: {message}" for field, messages in warnings.items() for message in messages]
    return {label: listed} if listed else {}


def source_version(source: ModuleSource) -> str:
    """The version to publish: the declared one, or one derived from the git commit.

    A module without a static version (pbr, dynamic) published from git becomes
    ``0+git.<commit>``, so every new commit is a new version and re-imports pick it up at once.
    """
    if source.version_source in ("pyproject.toml", "setup.cfg"):
        try:
            return check_version(source.version)
        except InvalidInput as exc:
            declared = f"the version the module declares in {source.version_source}"
            raise InvalidInput({"version": [f"{declared}: {exc.errors['version'][0]}"]}) from None
    if source.commit:
        return f"0+git.{source.commit[:12]}"
    raise InvalidInput(
        {
            "version": [
                "The module declares no static version and is not a git checkout: "
                "give the version to publish."
            ]
        }
    )


class CatalogService:
    """The Open Catalog behind the HTTP API and the CLI."""

    def __init__(
        self,
        registry: Registry,
        artifacts: ArtifactStore,
        jobs: JobStore | None = None,
        *,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.registry = registry
        self.artifacts = artifacts
        self.jobs = jobs
        # Settings.storage_options: what reads a training's artifacts (publish_job) opens its
        # artifacts_url with; private, credentials
        self._storage_options: Mapping[str, Mapping[str, Any]] = storage_options or {}
        self.facets = FacetIndexes()  # the search's facet index, rebuilt per catalog change

    # -- publishing ---------------------------------------------------------------------------

    def _store_files(self, files: Iterable[tuple[str, Path]]) -> list[ArtifactRecord]:
        records = []
        for name, path in files:
            relative_name(name, "artifacts")  # what pull and the gateway write it as, later
            stored = self.artifacts.put(path)
            media = mimetypes.guess_type(name)[0]
            records.append(
                ArtifactRecord(name=name, sha256=stored.sha256, size=stored.size, media_type=media)
            )
        return records

    def publish_source(
        self,
        source: ModuleSource,
        *,
        version: str | None = None,
        artifacts: Sequence[Path] = (),
        published_by: str | None = None,
        visibility: Visibility | None = None,
        groups: Sequence[str] = (),
        principal: Principal | None = None,
    ) -> VersionRecord:
        """Publish a read module as a new version (its files given in ``artifacts``)."""
        if version is not None:
            check_version(version)
        expect_owner = None
        if principal is not None:
            policy.check_publish(principal)
            published_by = published_by or principal.identity
            expect_owner = policy.expected_owner(principal)
        files = []
        for path in artifacts:
            full = path if path.is_absolute() else source.path / path
            if not full.is_file():
                raise InvalidInput({"artifacts": [f"not a file: {path}"]})
            files.append(
                (
                    full.relative_to(source.path).as_posix()
                    if full.is_relative_to(source.path)
                    else full.name,
                    full,
                )
            )
        chosen = version or source_version(source)
        with _hidden_as_missing(self.registry, source.name, principal):
            return self.registry.add(
                NewVersion(
                    source.name,
                    chosen,
                    source.metadata,
                    load_spec=source.load_spec,
                    package=source.package,
                    source_url=source.source_url,
                    commit=source.commit,
                    published_by=published_by,
                    artifacts=self._store_files(files),
                    visibility=visibility,
                    groups=groups,
                    expect_owner=expect_owner,
                )
            )

    def publish_new(self, new: NewVersion, principal: Principal | None = None) -> VersionRecord:
        """Publish a version made elsewhere (a pipeline); ``new`` carries its owner rules."""
        with _hidden_as_missing(self.registry, new.name, principal):
            return self.registry.add(new)

    def pipeline_names(self) -> set[str]:
        """The modules that are pipelines (``modelport.pipelines``)."""
        with transaction(self.registry.engine) as conn:
            return pipeline_modules(conn)

    def publish_directory(self, path: Path, **options: Any) -> VersionRecord:
        """Publish the module project in ``path`` (a server path: admins only, with a principal)."""
        if options.get("version") is not None:
            check_version(options["version"])
        if options.get("principal") is not None:
            policy.check_publish_server_path(options["principal"])
        return self.publish_source(read_module(path), **options)

    def publish_repository(
        self, url: str, ref: str | None = None, *, git: GitPolicy | None = None, **options: Any
    ) -> VersionRecord:
        """Clone a git repository (shallow) and publish the module in it.

        ``git`` says which URLs may be cloned; default: any, for a trusted caller (no
        ``principal``), else :meth:`GitPolicy.for_publishers`. A path or ``file://`` URL on
        the server is an admin's, cloned as a trusted caller's.
        """
        if options.get("version") is not None:
            check_version(options["version"])
        chosen, field = git or GitPolicy(), None
        principal = options.get("principal")
        if principal is not None:  # before cloning anything
            if is_server_local(url):
                policy.check_publish_server_path(principal)
                chosen = replace(chosen, untrusted=False)
            else:
                policy.check_publish(principal)
                chosen, field = git or GitPolicy.for_publishers(), "source"
        with tempfile.TemporaryDirectory(prefix="modelport-publish-") as workdir:
            checkout = fetch_repository(
                url, Path(workdir) / "module", ref=ref, policy=chosen, field=field
            )
            return self.publish_source(read_module(checkout, source_url=url), **options)

    def publish_archive(self, archive: Path, max_bytes: int, **options: Any) -> VersionRecord:
        """Publish the module project a publisher sent as a gzipped tar (``catalog/archives.py``:
        unpacked safely, at most ``max_bytes`` of files), as if from its directory."""
        if options.get("version") is not None:
            check_version(options["version"])
        if options.get("principal") is not None:
            policy.check_publish(options["principal"])
        with tempfile.TemporaryDirectory(prefix="modelport-publish-") as workdir:
            root = unpack_project(archive, Path(workdir), max_bytes)
            return self.publish_source(read_module(root), **options)

    def publish(
        self, source: str, ref: str | None = None, *, git: GitPolicy | None = None, **options: Any
    ) -> VersionRecord:
        """Publish ``source``: a directory on this machine (no ``ref``, no ``://``) as
        :meth:`publish_directory`, anything else as a git repository
        (:meth:`publish_repository`, ``ref`` and ``git`` passed on). The one place that decides
        which."""
        if "://" not in source and Path(source).is_dir() and ref is None:
            return self.publish_directory(Path(source), **options)
        return self.publish_repository(source, ref, git=git, **options)

    def import_index(self, index: str | Path, published_by: str | None = None) -> ImportReport:
        """Publish every module of an index (file, catalog checkout or catalog repository URL;
        ``catalog/index.py``); known versions are skipped, each failure is reported."""
        report = ImportReport()
        with tempfile.TemporaryDirectory(prefix="modelport-import-") as workdir:
            for item in read_index_modules(index, Path(workdir)):
                if isinstance(item, IndexEntryError):
                    report.errors[item.entry.name] = item.message
                    continue
                try:
                    version = source_version(item)
                    label = f"{item.name} {version}"
                    self.publish_source(item, version=version, published_by=published_by)
                    report.published.append(label)
                    report.warnings.update(_listed_warnings(label, item.metadata_warnings))
                except Conflict:
                    report.unchanged.append(label)
                except InvalidInput as exc:
                    report.errors[item.name] = describe_error(exc)
        return report

    def publish_job(
        self,
        job_id: str,
        *,
        module: str,
        version: str,
        base_version: str | None = None,
        data_url: str | None = None,
        published_by: str | None = None,
        principal: Principal | None = None,
    ) -> VersionRecord:
        """Publish a finished training's artifacts as a new version of ``module`` (lineage kept).

        The files are the job's artifacts: names that would leave its directory (``..``, a
        symbolic link out of it) refuse the publish.
        """
        check_version(version)
        if self.jobs is None:
            raise NotFound("no job store is configured")
        earlier = self.registry.publication(job_id)  # before copying anything (and re-checked)
        expect_owner = None
        if principal is not None:
            policy.check_manage_module(principal, self.registry.module(module))
            published_by = published_by or principal.identity
            expect_owner = policy.expected_owner(principal)
        job = self.jobs.get(job_id)
        if principal is not None:
            policy.check_see_job(principal, job)
        if earlier is not None:
            raise already_published(job_id, *earlier)
        if job.status is not JobStatus.SUCCEEDED:
            raise IllegalTransition(f"job {job_id} is {job.status.value}: only succeeded jobs")
        base = self.registry.version(module, base_version or "latest")
        with tempfile.TemporaryDirectory(prefix="modelport-job-") as workdir:
            files = job_artifact_files(job.artifacts_url, Path(workdir), self._storage_options)
            records = self._store_files(files)
        with _hidden_as_missing(self.registry, module, principal):
            return self.registry.add(
                NewVersion(
                    module,
                    version,
                    stored_metadata(base.metadata),
                    load_spec=base.load_spec,
                    package=base.package,
                    source_url=base.source_url,
                    commit=base.commit,
                    published_by=published_by,
                    lineage=Lineage(
                        job_id=job_id,
                        base_version=base.version,
                        data_url=data_url or _data_url(job.args),
                    ),
                    artifacts=records,
                    expect_owner=expect_owner,
                )
            )

    # -- reading ------------------------------------------------------------------------------

    def search(
        self, query: str = "", principal: Principal | None = None, **options: Any
    ) -> SearchPage:
        """Ranked full-text search with facets over what ``principal`` sees (see catalog.search)."""
        audience = policy.catalog_audience(principal) if principal is not None else None
        return search(
            self.registry.engine, query, audience=audience, facet_indexes=self.facets, **options
        )

    def publication(
        self, job_id: str, principal: Principal | None = None
    ) -> tuple[str, str] | None:
        """``(module, version)`` a job ``principal`` sees was published as; None if not yet."""
        if principal is not None:
            if self.jobs is None:
                raise NotFound(f"job '{job_id}' not found")
            policy.check_see_job(principal, self.jobs.get(job_id))
        return self.registry.publication(job_id)

    @property
    def engine(self) -> Engine:
        """The database the catalog lives on (the platform keeps sign-in's tokens there too)."""
        return self.registry.engine

    def module_detail(
        self, name: str, principal: Principal | None = None
    ) -> tuple[ModuleRecord, VersionRecord | None]:
        """A module ``principal`` sees and its latest version (None: none, e.g. all yanked)."""
        record = self.module(name, principal)
        latest = self.registry.version(name) if record.latest_version else None
        return record, latest

    def module(self, name: str, principal: Principal | None = None) -> ModuleRecord:
        """A module; NotFound too when ``principal`` may not see it."""
        record = self.registry.module(name)
        if principal is not None:
            policy.check_see_module(principal, record)
        return record

    def version(
        self, name: str, ref: str = LATEST, principal: Principal | None = None
    ) -> VersionRecord:
        """A version (number or alias) of a module ``principal`` sees."""
        self.module(name, principal)
        return self.registry.version(name, ref)

    def versions(
        self, name: str, principal: Principal | None = None, *, include_yanked: bool = False
    ) -> list[VersionRecord]:
        """The versions of a module ``principal`` sees, highest first (yanked ones only with
        ``include_yanked``)."""
        self.module(name, principal)
        return self.registry.versions(name, include_yanked)

    def names(self, principal: Principal | None = None, *, with_latest: bool = False) -> list[str]:
        """The names of the modules ``principal`` sees, sorted (``with_latest``: those with a
        latest version, i.e. not every version yanked)."""
        audience = policy.catalog_audience(principal) if principal is not None else None
        return self.registry.names(audience, with_latest=with_latest)

    def _managed(self, name: str, principal: Principal | None) -> None:
        if principal is not None:
            policy.check_manage_module(principal, self.registry.module(name))

    def set_alias(
        self, name: str, alias: str, version: str, principal: Principal | None = None
    ) -> ModuleRecord:
        """Point an alias at a version (owner or admin)."""
        self._managed(name, principal)
        return self.registry.set_alias(name, alias, version)

    def remove_alias(
        self, name: str, alias: str, principal: Principal | None = None
    ) -> ModuleRecord:
        """Remove an alias (owner or admin); ``latest`` cannot be removed."""
        self._managed(name, principal)
        return self.registry.remove_alias(name, alias)

    def yank(
        self,
        name: str,
        version: str,
        reason: str,
        principal: Principal | None = None,
        yanked_by: str | None = None,
    ) -> VersionRecord:
        """Yank an exact version with a reason (owner or admin): no longer latest nor listed,
        still served by its number."""
        self._managed(name, principal)
        by = principal.identity if principal is not None else yanked_by
        return self.registry.yank(name, version, reason, by)

    def unyank(self, name: str, version: str, principal: Principal | None = None) -> VersionRecord:
        """Undo a yank (owner or admin)."""
        self._managed(name, principal)
        return self.registry.unyank(name, version)

    def deprecate(
        self,
        name: str,
        deprecated: bool = True,
        message: str | None = None,
        principal: Principal | None = None,
    ) -> ModuleRecord:
        """Flag or unflag a module as deprecated (owner or admin)."""
        self._managed(name, principal)
        return self.registry.deprecate(name, deprecated, message)

    def set_visibility(
        self,
        name: str,
        visibility: Visibility,
        groups: Sequence[str] = (),
        principal: Principal | None = None,
    ) -> ModuleRecord:
        """Change who sees a module (owner or admin)."""
        self._managed(name, principal)
        return self.registry.set_visibility(name, visibility, groups)

    def artifact(
        self, module: str, ref: str, name: str, principal: Principal | None = None
    ) -> ArtifactRecord:
        """One artifact record of a version; NotFound if absent."""
        record = self.version(module, ref, principal)
        for artifact in record.artifacts:
            if artifact.name == name:
                return artifact
        raise NotFound(f"{module} {record.version} has no artifact '{name}'")


@contextmanager
def _hidden_as_missing(
    registry: Registry, name: str, principal: Principal | None
) -> Iterator[None]:
    """A refused publish into a module ``principal`` cannot see answers as a missing module
    would: its existence is not revealed (``auth.policy``: hidden modules are 404)."""
    try:
        yield
    except Forbidden:
        if principal is not None:
            policy.check_see_module(principal, registry.module(name))
        raise


def is_server_local(url: str) -> bool:
    """Whether git would read ``url`` from this server's disk (a path or ``file://``)."""
    if "://" in url:
        return url.split("://", 1)[0].lower() == "file"
    head, colon, _ = url.partition(":")
    return not colon or "/" in head  # 'host:path' and 'user@host:path' are ssh to git


def _data_url(args: Mapping[str, Any]) -> str | None:
    for key in ("data", "data_url", "dataset", "train_data"):
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return None
