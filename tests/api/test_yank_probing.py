"""Yanking and alias removal over HTTP with real API tokens: who may, and probing for hidden
modules (a hidden module answers exactly as a missing one). The fixtures of
test_authorization.py: alice's public 'open', group 'shared' (lab), private 'secret'.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_authorization import Platform, modules, platform, who

__all__ = ["modules", "platform"]  # the fixtures, shared

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/catalog/modules/{m}/versions/1.0.0/yank", {"reason": "probing"}),
    ("POST", "/catalog/modules/{m}/versions/1.0.0/yank", {"reason": ""}),  # a bad reason
    ("POST", "/catalog/modules/{m}/versions/stable/yank", {"reason": "r"}),  # an alias
    ("DELETE", "/catalog/modules/{m}/versions/1.0.0/yank", None),
    ("DELETE", "/catalog/modules/{m}/aliases/stable", None),
    ("DELETE", "/catalog/modules/{m}/aliases/latest", None),  # a bad alias
]


@pytest.mark.usefixtures("modules")
async def test_a_hidden_module_answers_yanks_as_a_missing_one(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    for user in ("bob", "carol"):  # a publisher who cannot see it, and a mere user
        for method, path, body in WRITES:
            hidden = await http.request(
                method, path.format(m="secret"), json=body, headers=as_[user]
            )
            missing = await http.request(
                method, path.format(m="ghost"), json=body, headers=as_[user]
            )
            assert hidden.status_code == missing.status_code == 404, (user, path, body)
            assert hidden.json() == {"message": "module 'secret' not found"}
            assert missing.json() == {"message": "module 'ghost' not found"}
    assert platform.catalog.registry.module("secret").yanked_versions == []


@pytest.mark.usefixtures("modules")
async def test_the_owner_or_an_admin_yanks_others_are_refused(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    yank = "/catalog/modules/open/versions/1.0.0/yank"
    body = {"reason": "wrong weights"}
    for user, status in (("bob", 403), ("carol", 403)):  # sees it, not his; no publisher role
        refused = await http.post(yank, json=body, headers=as_[user])
        assert refused.status_code == status, user
        assert "message" in refused.json()
    read_only = platform.token("alice", ["read"])  # her token without the publish scope
    scoped = await http.post(yank, json=body, headers=read_only)
    assert scoped.status_code == 403
    assert scoped.json() == {"message": "this API token lacks the 'publish' scope"}

    done = await http.post(yank, json=body, headers=as_["alice"])
    assert done.status_code == 200, done.text
    assert (done.json()["yanked_by"], done.json()["yanked_reason"]) == (
        who("alice"),
        "wrong weights",
    )
    # everyone who sees it sees why, on the exact version
    seen = await http.get("/catalog/modules/open/versions/1.0.0", headers=as_["carol"])
    assert (seen.json()["yanked"], seen.json()["yanked_reason"]) == (True, "wrong weights")
    assert (await http.delete(yank, headers=as_["bob"])).status_code == 403
    undone = await http.delete(yank, headers=as_["root"])  # an admin
    assert undone.status_code == 200, undone.text
    assert undone.json()["yanked"] is False
    stable = "/catalog/modules/open/aliases/stable"
    set_ = await http.put(stable, json={"version": "1.0.0"}, headers=as_["alice"])
    assert set_.status_code == 200
    assert (await http.delete(stable, headers=as_["bob"])).status_code == 403
    removed = await http.delete(stable, headers=as_["root"])
    assert removed.status_code == 200
    assert removed.json()["aliases"] == {"latest": "1.0.0"}
