"""Artifact and data access via fsspec: a content-addressed store for module artifacts."""

from __future__ import annotations

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
