"""Map the claims of a verified token to modelport roles, by configurable rules.

A role is a plain string. modelport's own roles are ``admin``, ``publisher``, ``trainer`` and
``user``; group memberships are ``group:<name>``; Keycloak access levels are
``access:<vo>:<level>``. Nothing is granted unless a rule says so.

Rule format
-----------
Each rule names one claim, one way to match its values, and the roles a match grants::

    {"claim": "eduperson_entitlement",
     "match": "urn:mace:egi.eu:group:vo.ai4eosc.eu:role=member#aai.egi.eu",
     "roles": ["user"]}

    {"claim": "eduperson_entitlement",
     "regex": "urn:mace:egi.eu:group:(?P<vo>[^:]+):role=(?P<role>[^#]+)#aai.egi.eu",
     "roles": ["group:{vo}"]}

- ``claim``: the claim's name, or a dotted path into nested objects (``realm_access.roles``,
  ``resource_access.my-client.roles``). A top-level claim whose name itself holds dots
  (``https://example.org/roles``) is found first, as it is.
- ``match``: the value must equal this string exactly; or
- ``regex``: the value must match this Python regular expression as a whole
  (``re.fullmatch``). Exactly one of ``match`` and ``regex`` is given.
- ``roles``: the roles granted by each matching value. ``{name}`` is replaced by the regex's
  named group ``name``; every placeholder must name a group of the regex (checked when the
  rule is built), so a ``match`` rule's roles hold no placeholders.

A claim may hold one string or a list of strings; every string is tried against every rule
and the roles of all matches are united. Other value types are ignored, never an error.

:data:`DEFAULT_RULES` turns memberships into ``group:`` roles, as AI4OS reads them:

- ``groups`` (a Keycloak group mapper; a leading ``/`` is dropped): ``/vo.ai4eosc.eu`` →
  ``group:vo.ai4eosc.eu``;
- EGI Check-in ``eduperson_entitlement``: ``urn:mace:egi.eu:group:<vo>:role=<role>#aai.egi.eu``
  → ``group:<vo>``;
- Keycloak realm roles ``access:<vo>:<level>`` (``realm_access.roles``) → ``group:<vo>`` and
  ``access:<vo>:<level>``. Levels are ordered (:data:`ACCESS_LEVELS`); :func:`has_access`
  answers "at least this level in this VO".

Who becomes ``user``, ``trainer``, ``publisher`` or ``admin`` is a deployment's decision, made by
adding rules, e.g. ``{"claim": "realm_access.roles", "regex": "access:[^:]+:ap-[ud]",
"roles": ["user", "trainer"]}`` or ``{"claim": "groups", "match": "/modelport-admins",
"roles": ["admin"]}``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

# Longer claim values are ignored: no identity provider sends them, and regexes stay cheap.
MAX_VALUE_LENGTH = 1024

# The EOSC EU-node access levels AI4OS uses in ``access:<vo>:<level>``, lowest first.
ACCESS_LEVELS: tuple[str, ...] = ("ap-a", "ap-a1", "ap-b", "ap-u", "ap-d")


class RoleRule(BaseModel):
    """One rule: values of ``claim`` equal to ``match`` or matching ``regex`` get ``roles``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    claim: str = Field(min_length=1)
    match: str | None = None
    regex: str | None = None
    roles: list[str] = Field(min_length=1)

    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> RoleRule:
        if (self.match is None) == (self.regex is None):
            raise ValueError("a role rule needs exactly one of 'match' and 'regex'")
        groups: set[str] = set()
        if self.regex is not None:
            try:
                self._pattern = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.regex!r}: {exc}") from exc
            groups = set(self._pattern.groupindex)
        for role in self.roles:
            for field in _placeholders(role):
                if field not in groups:
                    raise ValueError(
                        f"role {role!r} uses {{{field}}}, which is not a named group of the regex"
                    )
        return self

    def roles_for(self, value: str) -> Iterator[str]:
        """The roles this rule grants for one claim value (none when it does not match)."""
        if self._pattern is None:
            if value == self.match:
                yield from self.roles
            return
        found = self._pattern.fullmatch(value)
        if found is None:
            return
        captured = {k: v for k, v in found.groupdict().items() if v is not None}
        for role in self.roles:
            try:
                yield role.format_map(captured)
            except KeyError:
                continue  # an optional group that did not take part: the role does not apply


def _placeholders(template: str) -> list[str]:
    """The ``{name}`` fields of a role template; rejects formats, conversions and indexing."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"invalid role template {template!r}: {exc}") from exc
    fields = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"role template {template!r}: use plain {{name}} placeholders only")
        fields.append(field)
    return fields


DEFAULT_RULES: tuple[RoleRule, ...] = (
    RoleRule(claim="groups", regex=r"/?(?P<name>[^/].*)", roles=["group:{name}"]),
    RoleRule(
        claim="eduperson_entitlement",
        regex=r"urn:mace:egi\.eu:group:(?P<vo>[^:#]+):role=(?P<role>[^#]+)#aai\.egi\.eu",
        roles=["group:{vo}"],
    ),
    RoleRule(
        claim="realm_access.roles",
        regex=r"access:(?P<vo>[^:]+):(?P<level>[^:]+)",
        roles=["group:{vo}", "access:{vo}:{level}"],
    ),
)


def claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """The string values of a claim (a name or a dotted path); [] when absent or not strings."""
    if path in claims:
        value: Any = claims[path]
    else:
        value = claims
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return []
            value = value[part]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str) and len(v) <= MAX_VALUE_LENGTH]


def map_roles(claims: Mapping[str, Any], rules: Sequence[RoleRule]) -> frozenset[str]:
    """Every role the rules grant for these (verified) claims."""
    roles: set[str] = set()
    values: dict[str, list[str]] = {}
    for rule in rules:
        if rule.claim not in values:
            values[rule.claim] = claim_values(claims, rule.claim)
        for value in values[rule.claim]:
            roles.update(rule.roles_for(value))
    return frozenset(roles)


def has_access(
    roles: Iterable[str], vo: str, minimum: str, levels: Sequence[str] = ACCESS_LEVELS
) -> bool:
    """Whether ``roles`` hold ``access:<vo>:<level>`` at ``minimum`` or above in ``levels``."""
    if minimum not in levels:
        raise ValueError(f"unknown access level {minimum!r}; known: {', '.join(levels)}")
    floor = levels.index(minimum)
    prefix = f"access:{vo}:"
    for role in roles:
        if role.startswith(prefix):
            level = role[len(prefix) :]
            if level in levels and levels.index(level) >= floor:
                return True
    return False
