"""AI4OS's own verdict on metadata: its published JSON schemas, applied as AI4OS applies them.

The schemas ship in :mod:`modelport.catalog.schemata` (from the ``ai4-metadata`` package,
Apache-2.0). Validation follows ``ai4-metadata validate``, which the AI4OS hub's CI runs: the
``jsonschema`` validator of the schema's draft, no format checker (``format: uri``, ``date`` and
``doi`` are annotations, so ``links.docker_image: ai4oshub/ai4os-demo-app`` is valid), every other
keyword enforced (types, enumerations, required keys, unique items, the v1 keys v2 forbids).

Which schema judges a mapping, as the hub's CI (``ai4os/ai4os-hub-qa``) decides: a DEEP v1 file
(no ``metadata_version``, a v1 key such as ``sources``) the v1.0.0 schema; everything else the
v2.0.0 schema, whatever version it declares (``ai4-metadata validate --metadata-version 2.0.0``;
the ``metadata_version`` pattern admits any ``N.N.N``). The AI4OS platform (PAPI) re-validates
what it serves with the latest schema, 2.3.0, which adds only the ``resources`` rules: where the
two disagree, :mod:`modelport.catalog.metadata` warns.

Errors are keyed by the dotted path of the offending field as written in the file
(``links.source_code``, ``libraries.1``), each with jsonschema's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # jsonschema costs ~80 ms to import: only when a file is judged
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

#: The schema versions shipped, oldest first.
SCHEMA_VERSIONS: Final = ("1.0.0", "2.0.0", "2.1.0", "2.2.0", "2.3.0")
LATEST_VERSION: Final = SCHEMA_VERSIONS[-1]
V1_VERSION: Final = "1.0.0"
#: The schema the AI4OS hub's CI validates every ``ai4-metadata.yml`` with.
HUB_V2_VERSION: Final = "2.0.0"
#: Keys only DEEP v1 metadata has (the v2 schemas forbid them).
V1_ONLY_KEYS: Final = ("sources", "keywords", "date_creation", "tosca", "cite_url", "dataset_url")

_DRAFT_07: Final = (
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-07/schema",
)


def is_v1(data: Any) -> bool:
    """Whether a mapping is DEEP v1 metadata: no ``metadata_version`` and a v1-only key."""
    if not isinstance(data, Mapping) or "metadata_version" in data:
        return False
    return any(key in data for key in V1_ONLY_KEYS) or isinstance(data.get("description"), list)


def schema_version_for(data: Any) -> str:
    """The version of the schema AI4OS judges ``data`` with (see the module docstring)."""
    return V1_VERSION if is_v1(data) else HUB_V2_VERSION


def schema(version: str) -> dict[str, Any]:
    """The AI4OS schema of ``version`` (a copy: callers may change it)."""
    return json.loads(_schema_text(version))  # type: ignore[no-any-return]


def ai4os_errors(data: Any, version: str | None = None) -> dict[str, list[str]]:
    """Every error AI4OS's schema finds in ``data`` (``{}`` when valid), by dotted field path."""
    validator = _validator(version or schema_version_for(data))
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(data), key=_order):
        for path, message in _describe(error, data):
            bucket = errors.setdefault(path, [])
            if message not in bucket:
                bucket.append(message)
    return errors


@cache
def _schema_text(version: str) -> str:
    if version not in SCHEMA_VERSIONS:
        known = ", ".join(SCHEMA_VERSIONS)
        raise ValueError(f"no AI4OS metadata schema {version!r}; known: {known}")
    return (
        resources.files("modelport.catalog.schemata")
        .joinpath(f"ai4-apps-v{version}.json")
        .read_text(encoding="utf-8")
    )


@cache
def _validator(version: str) -> Validator:
    from jsonschema import Draft7Validator, Draft202012Validator

    document = schema(version)
    # The v2 schemas name draft 2020-12 by an http:// URI jsonschema does not know; it falls back
    # to its latest draft (2020-12) with a warning. Choosing the class here keeps that choice.
    cls = Draft7Validator if document.get("$schema") in _DRAFT_07 else Draft202012Validator
    return cls(document)


def _order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(part) for part in error.absolute_path)


def _dotted(parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def _describe(error: ValidationError, data: Any) -> list[tuple[str, str]]:
    """The field path(s) and message of one error, named where the author can fix them."""
    path = list(error.absolute_path)
    if error.validator == "required":
        # "'source_code' is a required property" belongs to links.source_code, not to links.
        required: list[str] = (
            list(error.schema.get("required", [])) if isinstance(error.schema, Mapping) else []
        )
        missing = [key for key in required if not _has(data, [*path, key])]
        return [(_dotted([*path, key]), "is a required property") for key in missing] or [
            (_dotted(path) or "_schema", error.message)
        ]
    if error.validator == "not" and not path and isinstance(data, Mapping):
        found = [key for key in V1_ONLY_KEYS if key in data]
        message = "is a DEEP v1 key, which metadata v2 forbids"
        return [(key, message) for key in found] or [("_schema", error.message)]
    message = error.message
    if error.validator == "type" and isinstance(error.instance, date):
        written = error.instance.isoformat()
        message += f"; YAML reads an unquoted date as a date, write it quoted: '{written}'"
    return [(_dotted(path) or "_schema", message)]


def _has(data: Any, path: list[Any]) -> bool:
    for part in path:
        found = isinstance(data, Mapping) and part in data
        found = found or (isinstance(data, list) and isinstance(part, int) and part < len(data))
        if not found:
            return False
        data = data[part]
    return True
