"""Probing for private modules over HTTP: a hidden module answers exactly as a missing one.

Real API tokens of several users against the real app (the fixtures of test_authorization.py);
alice's 'secret' is private, 'ghost' does not exist. Publishing a new version of a module from a
source (git or directory) is checked in ``tests/catalog/test_service.py``: over HTTP a publisher
can only send https URLs, which no test here can serve.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_authorization import Platform, modules, platform

__all__ = ["modules", "platform"]  # the fixtures, shared

WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("PUT", "/catalog/modules/{m}/aliases/stable", {"version": "1.0.0"}),
    ("PUT", "/catalog/modules/{m}/aliases/1.0.0", {"version": "1.0.0"}),  # a bad alias
    ("POST", "/catalog/modules/{m}/deprecate", {}),
    ("PUT", "/catalog/modules/{m}/visibility", {"visibility": "public"}),
    ("POST", "/catalog/modules/{m}/versions", {"job_id": "0" * 32, "version": "2.0"}),
    ("POST", "/catalog/modules/{m}/versions", {"job_id": "0" * 32, "version": "not a version"}),
]


@pytest.mark.usefixtures("modules")
async def test_a_hidden_module_answers_every_write_as_a_missing_one(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    for user in ("bob", "carol"):  # a publisher who cannot see it, and a mere user
        for method, path, body in WRITES:
            hidden = await http.request(
                method, path.format(m="secret"), json=body, headers=as_[user]
            )
            missing = await http.request(
                method, path.format(m="ghost"), json=body, headers=as_[user]
            )
            assert hidden.status_code == missing.status_code, (user, path, body)
            assert hidden.text.replace("secret", "ghost") == missing.text, (user, path, body)
            if hidden.status_code == 404:
                assert hidden.json() == {"message": "module 'secret' not found"}
    assert platform.catalog.registry.module("secret").aliases == {"latest": "1.0.0"}
    assert not platform.catalog.registry.module("secret").deprecated
