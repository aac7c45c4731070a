"""SPDX license expressions: check and normalise the ``license`` field of module metadata.

Accepted: an identifier from :data:`~modelport.catalog.vocabulary.SPDX_LICENSES` (matched
case-insensitively, written back in its canonical spelling), optionally with a trailing ``+``;
``LicenseRef-<idstring>``; ``<id> WITH <exception>``; and compound expressions joined by ``AND`` /
``OR``, with parentheses.
"""

from __future__ import annotations

import re
from typing import Final

from modelport.catalog.vocabulary import LICENSE_ALIASES, SPDX_EXCEPTIONS, SPDX_LICENSES

_BY_LOWER: Final = {name.lower(): name for name in SPDX_LICENSES}
_EXCEPTIONS_BY_LOWER: Final = {name.lower(): name for name in SPDX_EXCEPTIONS}
_TOKEN: Final = re.compile(r"\(|\)|[^\s()]+")
_LICENSE_REF: Final = re.compile(r"^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$")
_OPERATORS: Final = ("AND", "OR", "WITH")
RULE: Final = (
    "must be an SPDX license identifier or expression "
    "(e.g. 'Apache-2.0', 'MIT OR Apache-2.0', 'LicenseRef-<name>'; see https://spdx.org/licenses/)"
)


def normalize_license(expression: str) -> str:
    """Return ``expression`` with canonical SPDX spelling, or raise ValueError naming the rule."""
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise ValueError(f"an empty license {RULE}")
    parser = _Parser(tokens, expression)
    result = parser.expression()
    if parser.position != len(tokens):
        raise parser.error(f"unexpected '{tokens[parser.position]}'")
    return result


def spdx_from_name(name: str) -> str | None:
    """Map a free-text license name (``Apache 2.0``, ``MIT License``) or SPDX id to an SPDX id."""
    key = " ".join(name.lower().split())
    if key in _BY_LOWER:
        return _BY_LOWER[key]
    return LICENSE_ALIASES.get(key)


class _Parser:
    """Recursive-descent parser of the SPDX expression grammar (without DocumentRef subtleties)."""

    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def error(self, why: str) -> ValueError:
        """A ValueError that quotes the input, says what is wrong, and states the rule."""
        hint = ""
        suggestion = spdx_from_name(self.text)
        if suggestion and suggestion != self.text:
            hint = f"; did you mean '{suggestion}'?"
        return ValueError(f"'{self.text}': {why}; the license {RULE}{hint}")

    def peek(self) -> str | None:
        """The next token, or None at the end."""
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        """Consume and return the next token."""
        token = self.peek()
        if token is None:
            raise self.error("the expression ends too early")
        self.position += 1
        return token

    def expression(self) -> str:
        """expression := term (('AND' | 'OR') term)*"""
        parts = [self.term()]
        while (token := self.peek()) is not None and token.upper() in ("AND", "OR"):
            self.position += 1
            parts += [token.upper(), self.term()]
        return " ".join(parts)

    def term(self) -> str:
        """term := '(' expression ')' | license ['WITH' exception]"""
        first = self.take()
        if first == "(":
            inner = self.expression()
            if self.take() != ")":
                raise self.error("a parenthesis is not closed")
            return f"({inner})"
        result = self.license_id(first)
        if (following := self.peek()) is not None and following.upper() == "WITH":
            self.position += 1
            exception = self.take()
            canonical = _EXCEPTIONS_BY_LOWER.get(exception.lower())
            if canonical is None:
                raise self.error(f"'{exception}' is not a known SPDX license exception")
            result = f"{result} WITH {canonical}"
        return result

    def license_id(self, token: str) -> str:
        """A license identifier, canonicalised."""
        if token in {")"} or token.upper() in _OPERATORS:
            raise self.error(f"a license identifier is expected before '{token}'")
        if _LICENSE_REF.match(token):
            return token
        plus = "+" if token.endswith("+") else ""
        canonical = _BY_LOWER.get(token.removesuffix("+").lower())
        if canonical is None:
            raise self.error(f"'{token}' is not a known SPDX license identifier")
        return canonical + plus
