"""The client's Open Catalog: ``/catalog/...``, publishing and pulling artifacts."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelport import errors
from modelport.client.archive import pack_project
from modelport.client.files import param, write_response
from modelport.client.transport import Transport, segment

#: The piece of a project's archive sent at a time.
CHUNK = 1024 * 1024


class CatalogCalls:
    """The Open Catalog: search, versions, publishing, aliases, pull (a part of :class:`Client`)."""

    _transport: Transport

    def search(self, q: str = "", **filters: Any) -> dict[str, Any]:
        """Search the catalog: ``{"total", "modules": [...], "facets": {...}, ...}``.

        ``filters`` are the route's query parameters: ``libraries``, ``tasks``, ``categories``,
        ``data_type`` (sent as ``data-type``), ``license``, ``tags`` (each a value or a list),
        ``include_deprecated``, ``sort``, ``limit``, ``offset``.
        """
        params: dict[str, Any] = {"q": q}
        for key, value in filters.items():
            if value is not None:
                params[key.replace("_", "-") if key == "data_type" else key] = param(value)
        return self._transport.document("GET", "/catalog/modules", params=params)

    def module(self, name: str) -> dict[str, Any]:
        """A catalog module, its aliases and a summary of its latest version."""
        return self._transport.document("GET", f"/catalog/modules/{segment(name)}")

    def versions(self, name: str, include_yanked: bool = False) -> list[dict[str, Any]]:
        """A module's versions, highest first (yanked ones too, marked, when asked)."""
        params = {"include_yanked": "true"} if include_yanked else None
        path = f"/catalog/modules/{segment(name)}/versions"
        return self._transport.documents("GET", path, params=params)

    def version(self, name: str, version: str = "latest") -> dict[str, Any]:
        """One version (a number or an alias) with its metadata and artifacts."""
        path = f"/catalog/modules/{segment(name)}/versions/{segment(version)}"
        return self._transport.document("GET", path)

    def metadata(self, name: str, version: str = "latest") -> dict[str, Any]:
        """A version's AI4OS metadata."""
        path = f"/catalog/modules/{segment(name)}/metadata"
        return self._transport.document("GET", path, params={"version": version})

    def publish(
        self,
        source: str | Path,
        ref: str | None = None,
        version: str | None = None,
        *,
        visibility: str | None = None,
        groups: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Publish a module from a git URL or a directory *on the server*; the new version.

        ``visibility`` (``public``, ``group`` or ``private``; default: public for a new module,
        unchanged for an existing one) and ``groups`` (for ``group``) say who sees the module.
        """
        body: dict[str, Any] = {"source": str(source), "ref": ref, "version": version}
        if visibility is not None:
            body["visibility"] = str(visibility)
        if groups:
            body["groups"] = list(groups)
        return self._transport.document("POST", "/catalog/modules", json=body)

    def publish_directory(
        self,
        path: str | Path,
        version: str | None = None,
        *,
        visibility: str | None = None,
        groups: Sequence[str] = (),
        max_bytes: int = 500 * 1024 * 1024,
    ) -> dict[str, Any]:
        """Publish the module project in the local directory ``path`` (sent as a gzipped tar
        without version control, environments or caches: :mod:`modelport.client.archive`);
        the new version."""
        params: dict[str, Any] = {"version": version, "visibility": visibility}
        params = {k: str(v) for k, v in params.items() if v is not None}
        if groups:
            params["groups"] = list(groups)
        with tempfile.TemporaryFile() as archive:
            pack_project(Path(path), archive, max_bytes)
            size = archive.tell()
            archive.seek(0)
            return self._transport.document(  # streamed from the file, not held in memory
                "POST",
                "/catalog/modules/archive",
                content=iter(lambda: archive.read(CHUNK), b""),
                params=params,
                headers={"Content-Type": "application/gzip", "Content-Length": str(size)},
            )

    def publish_job(
        self,
        name: str,
        job_id: str,
        version: str,
        *,
        base_version: str | None = None,
        data_url: str | None = None,
    ) -> dict[str, Any]:
        """Publish a succeeded job's artifacts as a new version of module ``name``."""
        body = {
            "job_id": job_id,
            "version": version,
            "base_version": base_version,
            "data_url": data_url,
        }
        path = f"/catalog/modules/{segment(name)}/versions"
        return self._transport.document("POST", path, json=body)

    def set_alias(self, name: str, alias: str, version: str) -> dict[str, Any]:
        """Point an alias (``stable``, ...) at a version; the module."""
        path = f"/catalog/modules/{segment(name)}/aliases/{segment(alias)}"
        return self._transport.document("PUT", path, json={"version": version})

    def remove_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Remove an alias; the module."""
        path = f"/catalog/modules/{segment(name)}/aliases/{segment(alias)}"
        return self._transport.document("DELETE", path)

    def yank(self, name: str, version: str, reason: str) -> dict[str, Any]:
        """Yank a version (hidden from latest and listings, callable by number); the version."""
        path = f"/catalog/modules/{segment(name)}/versions/{segment(version)}/yank"
        return self._transport.document("POST", path, json={"reason": reason})

    def unyank(self, name: str, version: str) -> dict[str, Any]:
        """Undo a yank; the version."""
        path = f"/catalog/modules/{segment(name)}/versions/{segment(version)}/yank"
        return self._transport.document("DELETE", path)

    def publication(self, job_id: str) -> dict[str, Any]:
        """Whether a job was published: ``{"job_id", "published", "module", "version"}``."""
        return self._transport.document("GET", f"/catalog/jobs/{segment(job_id)}/publication")

    def deprecate(
        self, name: str, deprecated: bool = True, message: str | None = None
    ) -> dict[str, Any]:
        """Flag (or unflag) a module as deprecated; the module."""
        body = {"deprecated": deprecated, "message": message}
        path = f"/catalog/modules/{segment(name)}/deprecate"
        return self._transport.document("POST", path, json=body)

    def pull(self, name: str, dest: Path, version: str = "latest") -> list[Path]:
        """Download every artifact of a version into ``dest``, checking each one's sha256.

        A file whose bytes do not match its record is deleted and raises StoreError; the
        paths written are returned.
        """
        record = self.version(name, version)
        base = f"/catalog/modules/{segment(record['module'])}/versions/{segment(record['version'])}"
        root = dest.resolve()
        written = []
        for artifact in record["artifacts"]:
            target = (root / artifact["name"]).resolve()
            if not target.is_relative_to(root) or target == root:
                raise errors.InvalidInput({artifact["name"]: ["leaves the destination directory"]})
            path = f"{base}/artifacts/{quote(artifact['name'], safe='/')}"
            with self._transport.stream("GET", path) as response:
                write_response(response, target, sha256=artifact["sha256"], size=artifact["size"])
            written.append(target)
        return written
