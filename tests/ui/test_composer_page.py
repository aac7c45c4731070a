"""The pipeline composer's page, rendered in-process: its form, its scripts, the nav link, and
the modules a step may call (models, not pipelines)."""

from __future__ import annotations

import httpx

from tests.ui.catalog_seed import metadata
from tests.ui.test_pages import Platform, client, page, platform  # noqa: F401 (fixtures)


async def test_the_composer_renders_with_its_form_and_nav_link(
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    html = await page(client, "/dashboard/pipelines/new")
    assert "<h1>Compose a pipeline</h1>" in html
    assert '<a href="/dashboard/pipelines/new" aria-current="page">Pipelines</a>' in html
    assert '<label for="add-module">Module</label>' in html
    assert '<option value="classifier">classifier</option>' in html
    assert 'id="document"' in html
    assert 'id="check-button"' in html
    assert 'role="status" aria-live="polite"' in html
    assert "/dashboard/static/compose-schema.js" in html
    assert "/dashboard/static/compose.js" in html
    assert "<script>" not in html
    assert "onclick" not in html

    catalog = await page(client, "/dashboard/")
    assert 'href="/dashboard/pipelines/new" >Pipelines</a>' in catalog  # not the current page
    for asset in ("compose.js", "compose-schema.js", "compose-try.js"):
        served = await client.get(f"/dashboard/static/{asset}")
        assert served.status_code == 200
        assert "use strict" in served.text


async def test_a_pipeline_is_not_offered_as_a_step(
    platform: Platform,  # noqa: F811
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    platform.catalog.registry.publish(
        "chained",
        "1.0.0",
        metadata("Chained", "A pipeline."),
        pipeline={"document": {"name": "chained"}},
    )
    html = await page(client, "/dashboard/pipelines/new")
    assert '<option value="iris">iris</option>' in html
    assert 'value="chained"' not in html
