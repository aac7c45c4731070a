"""The dashboard's pages rendered in-process (httpx over ASGI) from a real catalog and job store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.api import create_app
from modelport.catalog import validate_metadata
from modelport.catalog.domain import Lineage
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.contract import discovery
from modelport.jobs.domain import Job, Resources
from modelport.jobs.service import JobService
from modelport.jobs.setup import build_job_service
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from modelport.ui import ui_router
from tests.ui.catalog_seed import seed_catalog

MODELS = ("classifier", "trainer", "echo", "iris")


class Platform:
    """The app and the services behind it."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path, catalog=True)
        self.catalog: CatalogService = build_catalog_service(self.settings)
        seed_catalog(self.catalog)
        self.jobs: JobService = build_job_service(self.settings)
        loaded = [discovery.load(name) for name in MODELS]
        runtime = ModelRuntime(loaded, self.settings, ServingMetrics())
        self.app = create_app(self.settings, runtime, self.jobs, self.catalog)
        self.app.include_router(ui_router(self.settings, self.catalog, self.jobs))


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(tmp_path)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as http:
        yield http


async def page(client: httpx.AsyncClient, path: str, **kw: Any) -> str:
    response = await client.get(path, **kw)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_catalog_lists_cards_with_facets_and_pages(client: httpx.AsyncClient) -> None:
    html = await page(client, "/dashboard/")
    assert "<!doctype html>" in html
    assert "16 modules match (showing 1\N{EN DASH}12)" in html
    assert "Page 1 of 2" in html
    assert 'name="tasks" value="Time Series"' in html
    assert '<label for="q">Search modules</label>' in html
    second = await page(client, "/dashboard/?page=2")
    assert "showing 13\N{EN DASH}16" in second


async def test_search_fragment_filters_by_facet(client: httpx.AsyncClient) -> None:
    html = await page(client, "/dashboard/?tasks=Computer+Vision", headers={"HX-Request": "true"})
    assert "<html" not in html  # a fragment for htmx to swap in
    assert "1 module matches." in html
    assert 'href="/dashboard/modules/classifier"' in html
    assert "checked" in html
    words = await page(client, "/dashboard/?q=animal", headers={"HX-Request": "true"})
    assert "Animal photo classifier" in words
    assert "Filler" not in words


async def test_no_match_has_a_clear_empty_state(client: httpx.AsyncClient) -> None:
    html = await page(client, "/dashboard/?q=zzzznothing")
    assert "No modules match" in html
    assert "Show every module" in html


async def test_module_page_renders_metadata_safely(client: httpx.AsyncClient) -> None:
    html = await page(client, "/dashboard/modules/classifier")
    assert "<strong>animal photos</strong>" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert 'rel="nofollow noopener noreferrer"' in html
    assert "10.5281/zenodo.1234567" in html
    assert "@software{classifier_1_0_0" in html
    assert "Memory (MB)" in html
    assert "/v2/models/classifier/predict/" in html
    assert 'href="/dashboard/modules/classifier/try"' in html
    assert 'href="/dashboard/modules/classifier/train"' in html


async def test_version_page_shows_lineage(client: httpx.AsyncClient, platform: Platform) -> None:
    registry = platform.catalog.registry
    registry.publish(
        "trainer",
        "1.0.1",
        validate_metadata(registry.version("trainer").metadata),
        lineage=Lineage(job_id="f" * 32, base_version="1.0.0"),
    )
    html = await page(client, "/dashboard/modules/trainer/versions/1.0.1")
    assert "Lineage" in html
    assert 'href="/dashboard/modules/trainer/versions/1.0.0">version 1.0.0' in html
    assert f'href="/dashboard/jobs/{"f" * 32}"' in html
    listing = await page(client, "/dashboard/modules/trainer")
    assert "trained by job ffffffff from 1.0.0" in listing


async def test_try_and_train_pages_hold_generated_forms(client: httpx.AsyncClient) -> None:
    html = await page(client, "/dashboard/modules/classifier/try?version=1.0.0")
    assert 'id="predict-form"' in html
    assert 'data-version="1.0.0"' in html
    train = await page(client, "/dashboard/modules/trainer/train")
    assert 'id="train-form"' in train
    assert 'name="resources.cpu"' in train
    assert "data-version" not in train  # the latest version, as the jobs API defaults to
    pinned = await page(client, "/dashboard/modules/trainer/train?version=1.0.0")
    assert 'data-version="1.0.0"' in pinned  # the form submits {"version": "1.0.0"}
    version_page = await page(client, "/dashboard/modules/trainer/versions/1.0.0")
    assert 'href="/dashboard/modules/trainer/train?version=1.0.0"' in version_page


async def test_jobs_pages(client: httpx.AsyncClient, platform: Platform) -> None:
    assert "No jobs yet" in await page(client, "/dashboard/jobs")
    job = platform.jobs.store.create(Job(model="trainer", model_spec="trainer", args={"epochs": 2}))
    listing = await page(client, "/dashboard/jobs")
    assert f'href="/dashboard/jobs/{job.id}"' in listing
    assert 'hx-trigger="every 2s"' in listing  # a live job: the table refreshes itself
    detail = await page(client, f"/dashboard/jobs/{job.id}")
    assert 'id="job-progress"' in detail
    assert "queued" in detail
    assert 'id="publish-form"' in detail  # hidden until the job succeeds


async def test_a_queued_job_shows_its_place_in_the_queue(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    big = Resources(cpu=64)  # more than this machine has: they wait
    ahead, behind = (
        platform.jobs.store.create(Job(model="trainer", model_spec="trainer", resources=big))
        for _ in range(2)
    )
    assert platform.jobs.scheduler.tick() == 0

    detail = await page(client, f"/dashboard/jobs/{behind.id}")
    assert '<span id="job-queue"><strong>Queue position</strong> 2</span>' in detail
    first = await page(client, f"/dashboard/jobs/{ahead.id}")
    assert "<strong>Queue position</strong> 1" in first


async def test_errors_are_helpful_html_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/modules/nope")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Not found" in response.text
    assert "Back to the catalog" in response.text
    missing = await client.get("/dashboard/no/such/page")
    assert missing.status_code == 404
    assert "no dashboard page" in missing.text
    job = await client.get("/dashboard/jobs/" + "0" * 32)
    assert job.status_code == 404


async def test_static_assets_are_served_from_the_package(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]
    assert (await client.get("/dashboard/static/../router.py")).status_code == 404
    assert (await client.get("/dashboard/static/%2e%2e/router.py")).status_code == 404


async def test_per_model_openapi_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/models/classifier/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    # DEEPaaS documents the training routes of every model (501 without train())
    assert list(doc["paths"]) == [
        "/v2/models/classifier/predict/",
        "/v2/models/classifier/train/",
        "/v2/models/classifier/train/{uuid}",
    ]
    body = doc["paths"]["/v2/models/classifier/predict/"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["image"]["format"] == "binary"
    assert schema["properties"]["top_k"]["maximum"] == 4
    assert "ClassifierPredictionResponse" in doc["components"]["schemas"]
    assert "EchoPredictArgs" not in doc["components"]["schemas"]
    trainer = (await client.get("/v2/models/trainer/openapi.json")).json()
    assert "/v2/models/trainer/train/" in trainer["paths"]
    assert "TrainerTrainArgs" in trainer["components"]["schemas"]
    unknown = await client.get("/v2/models/nope/openapi.json")
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "model 'nope' is not served here"}


async def test_dashboard_pages_carry_the_strict_policy(client: httpx.AsyncClient) -> None:
    from modelport.api.headers import DASHBOARD_POLICY

    response = await client.get("/dashboard/")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DASHBOARD_POLICY
    assert response.headers["x-frame-options"] == "DENY"
