"""The Open Catalog: metadata (AI4OS v2 + SPDX), v1 migration, module sources, registry, search."""

from __future__ import annotations

from modelport.catalog.files import (
    METADATA_FILENAMES,
    MetadataFile,
    dump_metadata,
    find_metadata_file,
    load_metadata,
    parse_metadata,
    read_metadata_file,
)
from modelport.catalog.git import fetch_repository
from modelport.catalog.index import IndexEntry, IndexEntryError, parse_index, read_index_modules
from modelport.catalog.metadata import (
    Dates,
    Links,
    MetadataReport,
    ModuleMetadata,
    Resources,
    ResourceSpec,
    check_metadata,
    validate_metadata,
)
from modelport.catalog.migrate_v1 import is_v1_metadata, migrate_v1
from modelport.catalog.sources import EntryPoint, ModuleSource, read_module
from modelport.catalog.vocabulary import SCHEMA_VERSION

__all__ = [
    "METADATA_FILENAMES",
    "SCHEMA_VERSION",
    "Dates",
    "EntryPoint",
    "IndexEntry",
    "IndexEntryError",
    "Links",
    "MetadataFile",
    "MetadataReport",
    "ModuleMetadata",
    "ModuleSource",
    "ResourceSpec",
    "Resources",
    "check_metadata",
    "dump_metadata",
    "fetch_repository",
    "find_metadata_file",
    "is_v1_metadata",
    "load_metadata",
    "migrate_v1",
    "parse_index",
    "parse_metadata",
    "read_index_modules",
    "read_metadata_file",
    "read_module",
    "validate_metadata",
]
