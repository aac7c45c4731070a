"""Role mapping rules: exact and regex matches, templates, claim paths, the default rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelport.auth.roles import (
    DEFAULT_RULES,
    RoleRule,
    claim_values,
    has_access,
    map_roles,
)

EGI_MEMBER = "urn:mace:egi.eu:group:vo.ai4eosc.eu:role=member#aai.egi.eu"
EGI_REGEX = r"urn:mace:egi.eu:group:(?P<vo>[^:]+):role=(?P<role>[^#]+)#aai.egi.eu"


def test_exact_match_grants_roles() -> None:
    rule = RoleRule(claim="eduperson_entitlement", match=EGI_MEMBER, roles=["user"])
    assert map_roles({"eduperson_entitlement": [EGI_MEMBER]}, [rule]) == {"user"}
    assert map_roles({"eduperson_entitlement": EGI_MEMBER}, [rule]) == {"user"}
    other = EGI_MEMBER.replace("ai4eosc", "imagine-ai")
    assert map_roles({"eduperson_entitlement": [other]}, [rule]) == frozenset()


def test_regex_captures_fill_role_templates() -> None:
    rule = RoleRule(
        claim="eduperson_entitlement", regex=EGI_REGEX, roles=["group:{vo}", "egi-{role}"]
    )
    claims = {
        "eduperson_entitlement": [
            EGI_MEMBER,
            "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=vm_operator#aai.egi.eu",
            "urn:mace:egi.eu:group:vo.x.eu:role=member#other.example",  # another authority
        ]
    }
    assert map_roles(claims, [rule]) == {
        "group:vo.ai4eosc.eu",
        "egi-member",
        "group:vo.imagine-ai.eu",
        "egi-vm_operator",
    }


def test_regex_must_match_the_whole_value() -> None:
    rule = RoleRule(claim="groups", regex="admins", roles=["admin"])
    assert map_roles({"groups": ["not-admins", "admins-x"]}, [rule]) == frozenset()
    assert map_roles({"groups": ["admins"]}, [rule]) == {"admin"}


def test_optional_group_that_did_not_match_skips_only_its_role() -> None:
    rule = RoleRule(
        claim="groups", regex=r"(?P<vo>[^/]+)(/(?P<sub>.+))?", roles=["group:{vo}", "sub:{sub}"]
    )
    assert map_roles({"groups": ["vo1"]}, [rule]) == {"group:vo1"}
    assert map_roles({"groups": ["vo1/team"]}, [rule]) == {"group:vo1", "sub:team"}


def test_values_are_inserted_literally() -> None:
    rule = RoleRule(claim="groups", regex="(?P<name>.+)", roles=["group:{name}"])
    assert map_roles({"groups": ["{name}{0}"]}, [rule]) == {"group:{name}{0}"}


@pytest.mark.parametrize(
    "rule",
    [
        {"claim": "groups", "roles": ["user"]},  # neither match nor regex
        {"claim": "groups", "match": "a", "regex": "a", "roles": ["user"]},  # both
        {"claim": "groups", "regex": "(", "roles": ["user"]},  # not a regex
        {"claim": "groups", "regex": "(?P<vo>.+)", "roles": ["group:{team}"]},  # unknown group
        {"claim": "groups", "match": "a", "roles": ["group:{vo}"]},  # placeholder without regex
        {"claim": "groups", "regex": "(?P<vo>.+)", "roles": ["{vo.__class__}"]},  # attribute
        {"claim": "groups", "regex": "(?P<vo>.+)", "roles": ["{vo!r}"]},  # conversion
        {"claim": "groups", "regex": "(?P<vo>.+)", "roles": ["{vo"]},  # unbalanced
        {"claim": "groups", "match": "a", "roles": []},  # grants nothing
        {"claim": "", "match": "a", "roles": ["user"]},
        {"claim": "groups", "match": "a", "roles": ["user"], "extra": 1},
    ],
)
def test_bad_rules_are_refused_when_built(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RoleRule.model_validate(rule)


def test_claim_paths_and_value_types() -> None:
    claims = {
        "realm_access": {"roles": ["a", "b"]},
        "resource_access": {"my-client": {"roles": ["c"]}},
        "https://example.org/roles": ["namespaced"],
        "groups": ["ok", 3, None, {"x": 1}, "x" * 5000],
        "number": 7,
    }
    assert claim_values(claims, "realm_access.roles") == ["a", "b"]
    assert claim_values(claims, "resource_access.my-client.roles") == ["c"]
    assert claim_values(claims, "https://example.org/roles") == ["namespaced"]
    assert claim_values(claims, "groups") == ["ok"]  # other types and huge values ignored
    assert claim_values(claims, "number") == []
    assert claim_values(claims, "realm_access.missing") == []
    assert claim_values(claims, "number.deeper") == []
    assert claim_values(claims, "absent") == []


def test_default_rules_map_groups_entitlements_and_access_roles() -> None:
    claims = {
        "groups": ["/vo.ai4eosc.eu", "/vo.ai4eosc.eu/developers", "plain"],
        "eduperson_entitlement": [
            EGI_MEMBER,
            "urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu",
        ],
        "realm_access": {
            "roles": ["access:vo.ai4life.eu:ap-u", "offline_access", "access:tutorials:ap-a"]
        },
    }
    assert map_roles(claims, DEFAULT_RULES) == {
        "group:vo.ai4eosc.eu",
        "group:vo.ai4eosc.eu/developers",
        "group:plain",
        "group:vo.imagine-ai.eu",
        "group:vo.ai4life.eu",
        "access:vo.ai4life.eu:ap-u",
        "group:tutorials",
        "access:tutorials:ap-a",
    }
    # Defaults grant memberships only: who is a user, publisher or admin is configured.
    assert map_roles({"groups": ["/admins"]}, DEFAULT_RULES) == {"group:admins"}


def test_configured_rules_grant_modelport_roles() -> None:
    rules = [
        *DEFAULT_RULES,
        RoleRule(claim="realm_access.roles", regex=r"access:[^:]+:ap-[ud]", roles=["user"]),
        RoleRule(claim="realm_access.roles", regex=r"access:[^:]+:ap-d", roles=["trainer"]),
        RoleRule(claim="groups", match="/modelport-admins", roles=["admin", "publisher"]),
    ]
    user = {"realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-u"]}}
    assert map_roles(user, rules) == {
        "user",
        "group:vo.ai4eosc.eu",
        "access:vo.ai4eosc.eu:ap-u",
    }
    tryme = {"realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-a"]}}
    assert "user" not in map_roles(tryme, rules)
    admin = {"groups": ["/modelport-admins"], "realm_access": {"roles": ["access:x:ap-d"]}}
    assert {"admin", "publisher", "user", "trainer"} <= map_roles(admin, rules)


def test_has_access_follows_the_level_order() -> None:
    roles = {"access:vo.ai4eosc.eu:ap-b", "access:tutorials:ap-d", "group:vo.ai4eosc.eu"}
    assert has_access(roles, "vo.ai4eosc.eu", "ap-a")
    assert has_access(roles, "vo.ai4eosc.eu", "ap-b")
    assert not has_access(roles, "vo.ai4eosc.eu", "ap-u")
    assert has_access(roles, "tutorials", "ap-u")
    assert not has_access(roles, "vo.imagine-ai.eu", "ap-a")
    assert not has_access({"access:vo:ap-zzz"}, "vo", "ap-a")  # unknown level: no access
    with pytest.raises(ValueError, match="unknown access level"):
        has_access(roles, "vo.ai4eosc.eu", "superuser")
