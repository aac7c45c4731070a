"""The module page's "Start a rollout" form as rendered (``_rollouts.html``): for whom it is
shown, what it offers, and its defaults. The browser side is tests/ui/test_rollouts_browser.py."""

from __future__ import annotations

from types import SimpleNamespace

from modelport.ui.rollouts import RolloutViews, rollout_views
from modelport.ui.router import templates


def render(*, manage: bool, available: bool = True, aliases: dict[str, str] | None = None) -> str:
    versions = [
        SimpleNamespace(version="3.0.0", yanked=True),
        SimpleNamespace(version="2.0.0", yanked=False),
        SimpleNamespace(version="1.0.0", yanked=False),
    ]
    module = SimpleNamespace(name="calc", aliases=aliases or {}, latest_version="2.0.0")
    return (
        templates()
        .get_template("_rollouts.html")
        .render(
            manage=manage,
            rollouts=RolloutViews(available=available),
            module=module,
            versions=versions,
            static="/dashboard/static",
            asset_version="1",
        )
    )


def selected(html: str, select: str) -> str:
    part = html.split(f'id="{select}"', 1)[1].split("</select>", 1)[0]
    return part.split(" selected>", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


def test_only_the_owner_of_a_server_with_rollouts_gets_the_form() -> None:
    assert "rollout-start-form" not in render(manage=False)
    assert "Rollouts" not in render(manage=False)  # nothing to show either
    assert "rollout-start-form" not in render(manage=True, available=False)
    assert rollout_views(None, None, "calc", None).available is False  # type: ignore[arg-type]
    html = render(manage=True)
    assert "rollout-start-form" in html
    # the page loads rollouts.js itself while there is no rollout (module.html does otherwise)
    assert html.count("rollouts.js") == 1
    assert "<script>" not in html  # the CSP: no inline script


def test_the_form_offers_versions_not_yanked_and_defaults() -> None:
    html = render(manage=True)
    assert 'value="3.0.0"' not in html
    assert selected(html, "rs-primary") == "2.0.0"  # no alias 'stable': the latest
    assert selected(html, "rs-canary") == "1.0.0"
    assert selected(html, "rs-shadow") == ""
    assert 'id="rs-weight" name="weight" type="number" min="0" max="100"' in html
    assert 'value="10"' in html
    html = render(manage=True, aliases={"stable": "1.0.0"})
    assert selected(html, "rs-primary") == "1.0.0"  # where the alias points
    assert selected(html, "rs-canary") == "2.0.0"
    assert """data-aliases='{"stable": "1.0.0"}'""" in html
    for label in ("Alias", "Primary version", "Canary version", "Canary weight (%)"):
        assert f">{label}</label>" in html
