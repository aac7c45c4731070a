"""Names a user types: "did you mean" for models, and module names normalised for ``new``."""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from modelport.errors import NotFound

if TYPE_CHECKING:
    from modelport.contract.base import ServedModel

#: A module name: lowercase words of letters and digits joined by '-', starting with a letter.
MODULE_NAME: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SEPARATORS: Final = re.compile(r"[-_.]+")
_NOT_NAME: Final = re.compile(r"[^a-z0-9]+")
_RESERVED: Final = frozenset({"modelport", "test", "tests"})


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates that look like ``word`` (difflib), closest first; case-insensitive."""
    by_lower = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[match] for match in found]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``), or ``""`` when nothing is close."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"


def unknown_model(spec: str) -> NotFound:
    """The error for a model name no entry point has: the close names, every installed one."""
    from modelport.contract import discovery

    installed = [ref.name for ref in discovery.discover()]
    hint = did_you_mean(spec, installed)
    known = ", ".join(installed) or "none"
    return NotFound(
        f"no model named '{spec}'{hint} (installed: {known}; `modelport models` lists them; "
        "or give an import path like package.module:Class)"
    )


def load_model(spec: str) -> ServedModel:
    """:func:`modelport.contract.discovery.load`; an unknown name lists the close ones."""
    from modelport.contract import discovery

    try:
        return discovery.load(spec)
    except NotFound:
        raise unknown_model(spec) from None


def normalise_module_name(name: str) -> str:
    """The name with runs of ``-``, ``_`` and ``.`` as one ``-``, lowercase (as PEP 503)."""
    return _SEPARATORS.sub("-", name).lower()


def module_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a module even normalised, with a suggestion; None if it can."""
    normalised = normalise_module_name(name)
    package = normalised.replace("-", "_")
    if MODULE_NAME.match(normalised):
        if keyword.iskeyword(package) or package in _RESERVED:
            return (
                f"'{name}' would shadow a Python keyword or package; "
                f"did you mean '{normalised}-model'?"
            )
        return None
    rule = (
        f"'{name}' is not a module name: use lowercase letters and digits, words joined by '-', "
        "starting with a letter"
    )
    slug = _NOT_NAME.sub("-", normalised).strip("-")
    if slug and not slug[0].isalpha():
        slug = f"model-{slug}"
    if slug and MODULE_NAME.match(slug):
        return f"{rule}; did you mean '{slug}'?"
    return f"{rule}, e.g. plant-classifier"
