"""Security headers on every answer of the platform."""

from __future__ import annotations

from modelport.api.headers import DASHBOARD_POLICY
from tests.conftest import AppFactory


async def test_every_answer_forbids_sniffing_and_framing(serve: AppFactory) -> None:
    client = await serve("echo")
    for response in (
        await client.get("/"),
        await client.get("/v2/models/echo/"),
        await client.get("/no/such/path"),
        await client.post("/v2/models/echo/predict/", json={}),  # a 422
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_the_dashboard_policy_allows_the_platform_only() -> None:
    directives = dict(d.strip().split(" ", 1) for d in DASHBOARD_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
