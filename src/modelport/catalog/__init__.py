"""The Open Catalog: module metadata (AI4OS schema v2 + SPDX license), files, v1 migration."""

from __future__ import annotations

from modelport.catalog.files import (
    METADATA_FILENAMES,
    dump_metadata,
    find_metadata_file,
    load_metadata,
    parse_metadata,
)
from modelport.catalog.metadata import (
    Dates,
    Links,
    ModuleMetadata,
    Resources,
    ResourceSpec,
    validate_metadata,
)
from modelport.catalog.migrate_v1 import is_v1_metadata, migrate_v1
from modelport.catalog.vocabulary import SCHEMA_VERSION

__all__ = [
    "METADATA_FILENAMES",
    "SCHEMA_VERSION",
    "Dates",
    "Links",
    "ModuleMetadata",
    "ResourceSpec",
    "Resources",
    "dump_metadata",
    "find_metadata_file",
    "is_v1_metadata",
    "load_metadata",
    "migrate_v1",
    "parse_metadata",
    "validate_metadata",
]
