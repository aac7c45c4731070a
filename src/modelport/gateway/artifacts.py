"""A catalog version's artifacts on local disk, fetched and verified once per machine.

The gateway materialises them before it starts a version's worker (which then sees them
read-only and never the artifact store); a Ray Serve replica fetches them itself, on its node,
before it imports the module's code. Both read through the catalog's :class:`ArtifactStore`,
opened with the options of ``catalog_artifacts_url`` (its credentials: ``storage_options``), so
a store that needs credentials (an authenticated WebDAV share, S3 without ``AWS_*`` variables)
serves as well as a local directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from modelport.errors import InvalidInput, StoreError
from modelport.storage import ArtifactStore
from modelport.storage.paths import safe_child
from modelport.storage.verified import write_verified

CHUNK: Final = 1024 * 1024
_COMPLETE: Final = ".modelport-complete"


def _artifact_path(staging: Path, name: str) -> Path:
    """Where an artifact goes in ``staging``; StoreError for a name that would leave it (the
    registry holds only safe names: another one means the catalog's store is not to be trusted)."""
    try:
        return safe_child(staging, name, "artifacts")
    except InvalidInput as exc:
        (reason,) = exc.errors["artifacts"]
        raise StoreError(
            f"an artifact name is not a relative path in its version: {reason}"
        ) from None


def _copy_verified(store: ArtifactStore, artifact: dict[str, Any], dest: Path) -> None:
    with store.open(artifact["sha256"]) as source:
        write_verified(
            iter(lambda: source.read(CHUNK), b""),
            dest,
            sha256=artifact["sha256"],
            size=artifact["size"],
            mismatch=(
                f"artifact '{artifact['name']}' is corrupt in the store: its bytes do not match "
                f"sha256:{artifact['sha256']} ({artifact['size']} bytes)"
            ),
        )


def materialize(store: ArtifactStore | str, artifacts: list[dict[str, Any]], target: Path) -> Path:
    """Fetch and verify a version's artifacts from ``store`` into ``target`` (reused when
    already complete).

    ``store`` is the catalog's store, opened with its options; a URL instead is opened with the
    backend's own environment only (no ``storage_options``), which reaches a local directory or
    S3 with ``AWS_*`` variables, not a share that needs credentials. They are written to a
    temporary sibling directory first and renamed into place, so a directory at ``target`` is
    always complete, whatever crashed meanwhile.
    """
    if (target / _COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        opened = ArtifactStore(store) if isinstance(store, str) else store
        for artifact in artifacts:
            _copy_verified(opened, artifact, _artifact_path(staging, artifact["name"]))
        (staging / _COMPLETE).write_text(json.dumps([a["sha256"] for a in artifacts]))
        try:
            staging.rename(target)
        except OSError:
            if (target / _COMPLETE).is_file():  # another worker finished first
                return target
            shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover
            staging.rename(target)
    except OSError as exc:
        raise StoreError(f"cannot write the artifacts into {target}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
