"""What a version and an alias may be: the one check, wherever one enters the catalog.

A version is a PEP 440 version (``1.2.0``, ``2.0rc1``, ``0+git.1a2b3c4d5e6f``, as pbr and
dynamic versions become) or a SemVer 2.0 one (``1.2.0-beta.1+build.5``), at most 100 characters.
An alias (``stable``, ``prod-1``) is a name of letters, digits, ``.``, ``_`` and ``-`` that is not
a version and not ``latest`` (which the registry moves itself). Both end up in URLs and in
directory names (``models/<module>/<version>``), so nothing else gets through.
"""

from __future__ import annotations

import re
from typing import Final

from packaging.version import InvalidVersion, Version

from modelport.catalog.domain import LATEST
from modelport.errors import InvalidInput

MAX_LENGTH: Final = 100
#: The characters PEP 440 and SemVer versions are spelt with; checked before anything parses.
_CHARACTERS: Final = re.compile(r"^[A-Za-z0-9.+!_-]+$")
#: SemVer 2.0's own regular expression (semver.org).
_SEMVER: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_ALIAS: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
_HINT: Final = "use PEP 440 (1.2.0, 2.0rc1) or SemVer (1.2.0-beta.1)"


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def is_version(value: str) -> bool:
    """Whether ``value`` is a PEP 440 or SemVer 2.0 version (as written: no spaces)."""
    if not value or len(value) > MAX_LENGTH or not _CHARACTERS.match(value) or ".." in value:
        return False
    if _SEMVER.match(value):
        return True
    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


def check_version(value: object, field: str = "version") -> str:
    """``value`` if it is a version (see the module); InvalidInput naming ``field`` otherwise."""
    if not isinstance(value, str) or not value:
        raise InvalidInput({field: [f"a version is required: {_HINT}"]})
    if len(value) > MAX_LENGTH:
        raise InvalidInput({field: [f"a version has at most {MAX_LENGTH} characters: {_HINT}"]})
    if not is_version(value):
        raise InvalidInput({field: [f"{_shown(value)} is not a version: {_HINT}"]})
    return value


def check_alias(value: object, field: str = "alias") -> str:
    """``value`` if it may name an alias (see the module); InvalidInput naming ``field``."""
    if value == LATEST:
        raise InvalidInput({field: ["'latest' always follows the highest version."]})
    if not isinstance(value, str) or not _ALIAS.match(value) or ".." in value:
        raise InvalidInput(
            {
                field: [
                    "an alias is 1-100 letters, digits, '.', '_' or '-', starting and ending "
                    "with a letter or digit (e.g. stable, prod-1)"
                ]
            }
        )
    if is_version(value):
        raise InvalidInput(
            {field: [f"{_shown(value)} is a version: an alias is a name such as 'stable'"]}
        )
    return value
