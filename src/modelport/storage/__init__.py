"""Artifact and data access via fsspec: a content-addressed store for module artifacts, safe
paths, verified writes and users' data areas.

The artifact store's names are imported on first use: the model contract needs only
``storage.userdata`` and ``storage.paths``, and serving a model should not load fsspec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelport.storage.artifacts import (
        CHUNK_SIZE,
        ArtifactStore,
        ByteRange,
        StoredArtifact,
        check_sha256,
        resolve_byte_range,
    )

__all__ = [
    "CHUNK_SIZE",
    "ArtifactStore",
    "ByteRange",
    "StoredArtifact",
    "check_sha256",
    "resolve_byte_range",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from modelport.storage import artifacts

        return getattr(artifacts, name)
    raise AttributeError(f"module 'modelport.storage' has no attribute {name!r}")
