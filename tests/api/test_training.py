"""Training over HTTP: the DEEPaaS v2 routes and the /jobs API, with real worker processes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.api import create_app
from modelport.contract import discovery
from modelport.jobs.setup import build_job_service
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings

pytestmark = pytest.mark.slow

Client = httpx.AsyncClient


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(data_dir=tmp_path, executor_cpus=2, cancel_grace=1.0)
    runtime = ModelRuntime(
        [discovery.load(s) for s in ("trainer", "echo", "legacy")], settings, ServingMetrics()
    )
    jobs = build_job_service(settings)
    app = create_app(settings, runtime, jobs)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30
        ) as http,
    ):
        yield http


async def wait_for(
    client: Client, job_id: str, done: Callable[[dict[str, Any]], bool], limit_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        job = (await client.get(f"/jobs/{job_id}")).json()
        if done(job) or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")


async def test_legacy_training_lifecycle_and_job_views(client: Client) -> None:
    started = await client.post("/v2/models/trainer/train/", params={"epochs": 3, "sleep": 0.05})
    assert started.status_code == 200
    view = started.json()
    assert set(view) == {"date", "args", "uuid", "status"}
    assert view["status"] == "running"
    assert view["args"] == {
        "epochs": 3,
        "sleep": 0.05,
        "fail": False,
        "spin": False,
        "crash": False,
    }
    job = await wait_for(client, view["uuid"], finished)
    assert job["status"] == "succeeded"
    assert job["progress"] == 1.0
    assert job["result"] == {"final_loss": 0.125, "epochs": 3}
    assert job["attempts"] == 1
    assert job["started_at"] is not None
    assert job["finished_at"] is not None

    done = (await client.get(f"/v2/models/trainer/train/{view['uuid']}")).json()
    assert done["status"] == "done"
    assert done["result"]["output"] == {"final_loss": 0.125, "epochs": 3}
    assert set(done["result"]) == {"output", "finish_date", "duration"}
    listed = (await client.get("/v2/models/trainer/train")).json()
    assert [t["uuid"] for t in listed] == [view["uuid"]]

    metrics = (await client.get(f"/jobs/{view['uuid']}/metrics")).json()
    assert [(m["name"], m["value"], m["step"]) for m in metrics] == [
        ("loss", 0.5, 1),
        ("loss", 0.25, 2),
        ("loss", 0.125, 3),
    ]
    logs = (await client.get(f"/jobs/{view['uuid']}/logs")).json()
    assert logs["lines"] == ["epoch 1/3 loss=0.5", "epoch 2/3 loss=0.25", "epoch 3/3 loss=0.125"]
    page = (await client.get(f"/jobs/{view['uuid']}/logs", params={"offset": 1, "limit": 1})).json()
    assert page == {"lines": ["epoch 2/3 loss=0.25"], "offset": 1, "next_offset": 2}
    artifacts = (await client.get(f"/jobs/{view['uuid']}/artifacts")).json()
    assert [a["name"] for a in artifacts] == ["weights.json"]
    download = await client.get(artifacts[0]["href"])
    assert download.status_code == 200
    assert json.loads(download.content) == {"loss": 0.125}
    missing = await client.get(f"/jobs/{view['uuid']}/artifacts/../../etc/passwd")
    assert missing.status_code == 404


async def test_failing_training_records_error_and_traceback(client: Client) -> None:
    view = (await client.post("/v2/models/trainer/train/", json={"epochs": 1, "fail": True})).json()
    job = await wait_for(client, view["uuid"], finished)
    assert job["status"] == "failed"
    assert job["error"] == "RuntimeError: diverged at the last epoch"
    lines = (await client.get(f"/jobs/{view['uuid']}/logs")).json()["lines"]
    assert "Traceback (most recent call last):" in lines
    assert "about to fail" in lines
    legacy = (await client.get(f"/v2/models/trainer/train/{view['uuid']}")).json()
    assert legacy["status"] == "error"
    assert legacy["message"] == "RuntimeError: diverged at the last epoch"


async def test_cancel_a_running_training(client: Client) -> None:
    view = (
        await client.post("/v2/models/trainer/train/", json={"epochs": 100, "sleep": 0.1})
    ).json()
    await wait_for(client, view["uuid"], lambda j: j["progress"] > 0)
    started = time.monotonic()
    cancelled = await client.delete(f"/v2/models/trainer/train/{view['uuid']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert time.monotonic() - started < 2.0
    job = (await client.get(f"/jobs/{view['uuid']}")).json()
    assert job["status"] == "cancelled"
    assert job["cancel_requested"] is True
    again = await client.post(f"/jobs/{view['uuid']}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.json()["message"]
    # as DEEPaaS: deleted, the training is gone from its view; the /jobs history keeps it
    legacy_again = await client.delete(f"/v2/models/trainer/train/{view['uuid']}")
    assert legacy_again.status_code == 404
    assert (await client.get(f"/v2/models/trainer/train/{view['uuid']}")).status_code == 404
    listed = (await client.get("/v2/models/trainer/train/")).json()
    assert view["uuid"] not in {t["uuid"] for t in listed}
    kept = (await client.get(f"/jobs/{view['uuid']}")).json()
    assert kept["status"] == "cancelled"
    assert kept["dismissed_at"] is not None


async def test_bad_input(client: Client) -> None:
    invalid = await client.post("/v2/models/trainer/train/", json={"epochs": 0, "sleep": "x"})
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"epochs", "sleep"}
    too_big = await client.post("/jobs", json={"model": "trainer", "resources": {"gpu": 4}})
    assert too_big.status_code == 422
    assert too_big.json() == {
        "resources": ["Can never run: asks for 4 GPUs; the local executor has 0."]
    }
    assert (await client.post("/v2/models/nope/train/")).status_code == 404
    assert (await client.get("/jobs/0123")).status_code == 404
    assert (await client.get("/v2/models/trainer/train/0123")).status_code == 404
    untrainable = await client.post("/v2/models/echo/train/")
    assert untrainable.status_code == 501
    assert untrainable.json()["message"] == "Not implemented by underlying model (loaded 'echo')"
    assert (await client.get("/v2/models/echo/train/")).json() == []


async def test_legacy_module_trains_unchanged(client: Client) -> None:
    view = (await client.post("/v2/models/legacy/train/", params={"epochs": 7})).json()
    job = await wait_for(client, view["uuid"], finished)
    assert job["status"] == "succeeded"
    assert job["result"] == {"epochs": 7}


async def test_a_failed_legacy_training_says_what_deepaas_says(client: Client) -> None:
    view = (await client.post("/v2/models/legacy/train/", params={"epochs": 13})).json()
    job = await wait_for(client, view["uuid"], finished)
    assert job["status"] == "failed"
    failed = (await client.get(f"/v2/models/legacy/train/{view['uuid']}")).json()
    # DEEPaaS: "message": "%s" % exc (no exception type in front)
    assert (failed["status"], failed["message"]) == ("error", "unlucky epochs")


async def test_job_api_submit_list_retry(client: Client) -> None:
    created = await client.post(
        "/jobs", json={"model": "trainer", "args": {"epochs": 1}, "priority": 3}
    )
    assert created.status_code == 201
    job = created.json()
    assert job["priority"] == 3
    done = await wait_for(client, job["id"], finished)
    retried = await client.post(f"/jobs/{job['id']}/retry")
    assert retried.status_code == 201
    assert retried.json()["retry_of"] == job["id"]
    assert retried.json()["args"] == done["args"]
    await wait_for(client, retried.json()["id"], finished)
    page = (await client.get("/jobs", params={"model": "trainer", "limit": 1})).json()
    assert page["total"] == 2
    assert [j["id"] for j in page["jobs"]] == [retried.json()["id"]]
    by_status = (await client.get("/jobs", params={"status": ["succeeded"]})).json()
    assert by_status["total"] == 2
    running_retry = await client.post(f"/jobs/{retried.json()['id']}/retry")
    assert running_retry.status_code == 201


async def test_event_stream_is_complete_and_resumable(client: Client) -> None:
    job = (await client.post("/jobs", json={"model": "trainer", "args": {"epochs": 2}})).json()
    response = await client.get(f"/jobs/{job['id']}/events")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status"
    assert kinds[-1] == "end"
    assert json.loads(events[-1]["data"])["status"] == "succeeded"
    assert kinds.count("metric") == 2
    assert kinds.count("log") == 2
    assert "progress" in kinds
    assert "artifact" in kinds
    statuses = [json.loads(e["data"])["status"] for e in events if e["event"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    ids = [int(e["id"]) for e in events[:-1]]
    assert ids == sorted(ids)
    middle = ids[len(ids) // 2]
    resumed = await client.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": str(middle)})
    again = parse_sse(resumed.text)
    assert [int(e["id"]) for e in again[:-1]] == [i for i in ids if i > middle]


def parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def test_openapi_documents_training(client: Client) -> None:
    spec = (await client.get("/openapi.json")).json()
    train = spec["paths"]["/v2/models/trainer/train/"]
    props = spec["components"]["schemas"]["TrainerTrainArgs"]["properties"]
    assert set(props) == {"epochs", "sleep", "fail", "spin", "crash"}
    assert "post" in train
    assert "get" in train
    assert set(spec["paths"]["/v2/models/trainer/train/{uuid}"]) == {"get", "delete"}
    # as DEEPaaS, every model has training routes; one without train() answers 501
    assert "501" in spec["paths"]["/v2/models/echo/train/"]["post"]["responses"]
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/jobs/{job_id}/cancel"):
        assert path in spec["paths"], path
    swagger = (await client.get("/swagger.json")).json()
    params = {
        p["name"] for p in swagger["paths"]["/v2/models/trainer/train/"]["post"]["parameters"]
    }
    assert params == {"epochs", "sleep", "fail", "spin", "crash"}
