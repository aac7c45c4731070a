"""A module's source in its owner's notebook home, importable first: an editable install.

Where the source comes from, in order: the version's ``source_url`` when it is a git URL
(cloned under the platform's git policy, as publishing from a URL is); else the project
directory the module's distribution was installed from in editable mode (``direct_url.json``,
as the bundled pilots are); else nothing (the installed package is importable as it is). An
existing checkout is never overwritten: it holds the builder's edits.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from modelport.catalog.domain import VersionRecord
from modelport.catalog.git import GitPolicy, fetch_repository, is_git_url
from modelport.client.archive import SKIPPED
from modelport.storage.paths import safe_child


def checkout_module(
    record: VersionRecord, home: Path, policy: GitPolicy
) -> tuple[Path | None, str]:
    """The module's source under ``home`` (its directory, or None) and what was done, in words."""
    dest = safe_child(home, record.module, "module")
    if dest.exists():
        return dest, f"kept your checkout of {record.module} in ~/{dest.name}"
    if record.source_url and is_git_url(record.source_url):
        fetch_repository(record.source_url, dest, policy=policy, field="source_url")
        return dest, f"cloned {record.source_url} into ~/{dest.name}"
    project = _editable_project(record.package)
    if project is not None:
        shutil.copytree(project, dest, ignore=shutil.ignore_patterns(*SKIPPED), symlinks=True)
        return dest, f"copied {record.module}'s project into ~/{dest.name}"
    return None, f"{record.module} has no source to check out: its installed package is used"


def _editable_project(package: str | None) -> Path | None:
    """The directory ``package`` was installed from in editable mode, if it was."""
    if not package:
        return None
    try:
        said = metadata.distribution(package).read_text("direct_url.json")
    except (metadata.PackageNotFoundError, ValueError):
        return None
    if not said:
        return None
    try:
        direct = json.loads(said)
    except ValueError:
        return None
    url = urlparse(str(direct.get("url", "")))
    editable = bool(direct.get("dir_info", {}).get("editable"))
    path = Path(unquote(url.path))
    return path if editable and url.scheme == "file" and path.is_dir() else None
