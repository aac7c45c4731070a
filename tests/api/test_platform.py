"""The platform (``modelport up``) in-process: the app ``build_platform`` assembles, run inside
its lifespan — catalog, on-demand serving through real worker processes, training through real
job subprocesses, the dashboard, and authorization with real API tokens over OIDC settings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelport.apps.platform import build_platform
from modelport.auth.config import identity_key
from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog.domain import Visibility
from modelport.catalog.setup import build_catalog_service
from modelport.db import connect
from modelport.settings import Settings
from tests.conftest import AppFactory
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, idp, keys
from tests.gateway.conftest import META, children, eventually

__all__ = ["idp", "keys"]  # fixtures, re-exported

IRIS = "/v2/models/iris/predict/?sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2"
TRAINER = "mp_fixtures.typed:Trainer"
COLD = "x-modelport-cold-start"
WORKER = "modelport.apps.worker"


@dataclass
class Platform:
    """The running platform's app, an in-process client, and what it seeded."""

    app: FastAPI
    http: httpx.AsyncClient
    published: list[str]
    settings: Settings


PlatformFactory = Callable[..., AbstractAsyncContextManager[Platform]]


def workers(data_dir: Path) -> dict[int, str]:
    """Gateway worker processes serving from ``data_dir``: pid → command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # the worker itself, not the bwrap processes around it (their command lines hold its own)
        if WORKER in cmdline and str(data_dir) in cmdline and not _is_bwrap(cmdline):
            found[int(entry)] = cmdline
    return found


def _is_bwrap(cmdline: str) -> bool:
    return cmdline.split(" ", 1)[0].endswith("bwrap")


@pytest.fixture
def platform(tmp_path: Path) -> PlatformFactory:
    """Run ``build_platform``'s app within its lifespan; afterwards no process is left."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[Platform]:
        before = children()
        settings = Settings(data_dir=tmp_path / "data", **overrides)
        app, published = build_platform(settings)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://test"
                ) as http,
            ):
                yield Platform(app, http, published, settings)
        finally:
            # job processes are reaped by their executor, perhaps just after the lifespan
            await eventually(lambda: children() - before == set())
            assert workers(settings.data_dir) == {}

    return run


async def finished(http: httpx.AsyncClient, job_id: str, **kw: Any) -> dict[str, Any]:
    """Wait for a job to end; return its record."""
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = (await http.get(f"/jobs/{job_id}", **kw)).json()
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.1)


# -- serving ----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_the_seeded_iris_is_served_on_demand_as_serve_would(
    platform: PlatformFactory, serve: AppFactory
) -> None:
    local = await serve("iris")
    async with platform() as p:
        seeded = sorted(label.split()[0] for label in p.published)  # iris, installed pilots
        assert "iris" in seeded
        listed = await p.http.get("/v2/models/")
        assert listed.status_code == 200
        assert sorted(m["name"] for m in listed.json()["models"]) == seeded
        assert workers(p.settings.data_dir) == {}  # listing loads nothing

        first = await p.http.post(IRIS)
        assert first.status_code == 200, first.text
        assert float(first.headers[COLD]) > 0
        version = first.headers["x-modelport-model-version"]
        assert f"iris {version}" in p.published
        second = await p.http.post(IRIS)
        assert second.status_code == 200
        assert COLD not in second.headers
        expected = await local.post(IRIS)
        assert expected.status_code == 200
        for response in (first, second):
            assert response.content == expected.content
            assert response.headers["content-type"] == expected.headers["content-type"]

        bad = await p.http.post(IRIS.replace("5.1", "99"))
        assert bad.status_code == 422
        assert bad.content == (await local.post(IRIS.replace("5.1", "99"))).content

        metrics = (await p.http.get("/metrics")).text
        assert 'modelport_gateway_cold_start_seconds_count{model="iris"} 1.0' in metrics

        unknown = await p.http.post("/v2/models/nope/predict/")
        assert unknown.status_code == 404
        assert "nope" in unknown.json()["message"]
        assert (await p.http.get("/v2/models/nope/")).status_code == 404

        dashboard = await p.http.get("/dashboard/")
        assert dashboard.status_code == 200
        assert "text/html" in dashboard.headers["content-type"]
        catalog = (await p.http.get("/catalog/modules")).json()
        assert "iris" in str(catalog)

        # a worker killed between calls: the next call starts a fresh one
        (pid,) = workers(p.settings.data_dir)
        os.kill(pid, signal.SIGKILL)
        crashed = 'modelport_gateway_unloads_total{model="iris",reason="crash"} 1.0'
        deadline = time.monotonic() + 10
        while crashed not in (await p.http.get("/metrics")).text:  # the pool noticed
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert "modelport_gateway_models_loaded 0.0" in (await p.http.get("/metrics")).text
        again = await p.http.post(IRIS)
        assert again.status_code == 200, again.text
        assert again.content == expected.content
        assert COLD in again.headers
        (restarted,) = workers(p.settings.data_dir)
        assert restarted != pid


# -- training ---------------------------------------------------------------------------------


def publish_trainer(settings: Settings, owner: str | None = None, **kw: Any) -> None:
    """Publish mp_fixtures' trainer as module ``trainer`` 1.0.0."""
    catalog = build_catalog_service(settings)
    catalog.registry.publish(
        "trainer",
        "1.0.0",
        META,
        load_spec=TRAINER,
        package="mp_fixtures",
        published_by=owner,
        **kw,
    )


@pytest.mark.slow
async def test_a_catalog_module_trains_through_jobs_and_the_deepaas_route(
    platform: PlatformFactory, tmp_path: Path
) -> None:
    publish_trainer(Settings(data_dir=tmp_path / "data"))
    async with platform() as p:
        assert "iris 1.0.0" in p.published  # the examples the catalog lacked
        created = await p.http.post("/jobs", json={"model": "trainer", "args": {"epochs": 2}})
        assert created.status_code == 201, created.text
        job = await finished(p.http, created.json()["id"])
        assert job["status"] == "succeeded", job["error"]
        assert job["version"] == "1.0.0"
        assert job["model_spec"] == TRAINER
        assert job["result"] == {"final_loss": 0.25, "epochs": 2}

        legacy = await p.http.post("/v2/models/trainer/train/?epochs=1")
        assert legacy.status_code == 200, legacy.text
        uuid = legacy.json()["uuid"]
        assert legacy.json()["status"] == "running"
        job = await finished(p.http, uuid)
        assert job["status"] == "succeeded", job["error"]
        assert job["version"] == "1.0.0"
        status = (await p.http.get(f"/v2/models/trainer/train/{uuid}")).json()
        assert status["status"] == "done"

        # the module's own validation, run in its worker
        bad = await p.http.post("/jobs", json={"model": "trainer", "args": {"epochs": 0}})
        assert bad.status_code == 422
        assert "epochs" in bad.json()
        bad_legacy = await p.http.post("/v2/models/trainer/train/?epochs=abc")
        assert bad_legacy.status_code == 422
        assert "epochs" in bad_legacy.json()
        unknown = await p.http.post("/jobs", json={"model": "nope", "args": {}})
        assert unknown.status_code == 404
        assert (await p.http.get("/jobs")).json()["total"] == 2


# -- authorization ----------------------------------------------------------------------------


def bearer(tokens: TokenStore, user: str, scopes: list[str], roles: list[str]) -> dict[str, str]:
    """An Authorization header with a new API token of ``user`` (an identity)."""
    issued = tokens.issue(user, "test", scopes, roles=roles, groups=[])
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.mark.slow
async def test_with_auth_on_calls_jobs_and_private_modules_are_per_user(
    platform: PlatformFactory, idp: Idp, keys: dict[str, Key], tmp_path: Path
) -> None:
    idp.publish("a", keys["a1"])
    given = auth_settings(idp, f"sqlite:///{tmp_path}/platform.db")
    settings = Settings(data_dir=tmp_path / "data", **given)
    tokens = TokenStore(connect(settings.store_url()))
    user_scopes = [s for s in SCOPES if s != "admin"]
    ada, ben, boss = (identity_key(idp.issuer("a"), who) for who in ("alice", "bob", "root"))
    alice = bearer(tokens, ada, user_scopes, ["user", "trainer"])
    bob = bearer(tokens, ben, user_scopes, ["user", "trainer"])
    root = bearer(tokens, boss, list(SCOPES), ["admin"])
    no_predict = bearer(tokens, ben, ["read"], ["user"])

    async with platform(**given) as p:
        publish_trainer(settings, owner=ada, visibility=Visibility.PRIVATE)
        anonymous = await p.http.post(IRIS)
        assert anonymous.status_code == 401
        assert "message" in anonymous.json()
        assert (await p.http.get("/v2/models/")).status_code == 401
        refused = await p.http.post(IRIS, headers=no_predict)
        assert refused.status_code == 403
        assert "message" in refused.json()
        assert workers(p.settings.data_dir) == {}  # nothing was loaded for them

        assert (await p.http.post(IRIS, headers=bob)).status_code == 200

        # alice's private module: hers (and the admin's), invisible to bob
        def names(response: httpx.Response) -> list[str]:
            return sorted(m["name"] for m in response.json()["models"])

        seeded = sorted(label.split()[0] for label in p.published)
        assert "iris" in seeded
        everything = sorted([*seeded, "trainer"])
        assert names(await p.http.get("/v2/models/", headers=alice)) == everything
        assert names(await p.http.get("/v2/models/", headers=bob)) == seeded
        assert names(await p.http.get("/v2/models/", headers=root)) == everything
        hidden = await p.http.post("/v2/models/trainer/predict/?x=2", headers=bob)
        assert hidden.status_code == 404
        missing = await p.http.post("/v2/models/nope/predict/?x=2", headers=bob)
        assert hidden.json()["message"] == missing.json()["message"].replace("nope", "trainer")
        assert (await p.http.get("/v2/models/trainer/", headers=bob)).status_code == 404
        mine = await p.http.post("/v2/models/trainer/predict/?x=2", headers=alice)
        assert mine.status_code == 200, mine.text
        refused_train = await p.http.post(
            "/jobs", json={"model": "trainer", "args": {}}, headers=bob
        )
        assert refused_train.status_code == 404

        # alice's job: hers and the admin's to see, not bob's
        created = await p.http.post(
            "/jobs", json={"model": "trainer", "args": {"epochs": 1}}, headers=alice
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        assert created.json()["owner"] == ada
        job = await finished(p.http, job_id, headers=alice)
        assert job["status"] == "succeeded", job["error"]
        assert (await p.http.get(f"/jobs/{job_id}", headers=bob)).status_code == 404
        assert (await p.http.get(f"/jobs/{job_id}", headers=root)).status_code == 200
        assert (await p.http.get("/jobs", headers=bob)).json()["total"] == 0
