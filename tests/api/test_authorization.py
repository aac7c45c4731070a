"""Authorization over HTTP with real API tokens of several users: jobs, quotas, the catalog.

The app is the real one (models, jobs, catalog) with an authenticator reading API tokens from
the job store's database. The scheduler is stopped once the app runs, so jobs stay queued.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from modelport.api import create_app
from modelport.auth.authenticator import Authenticator
from modelport.auth.config import identity_key
from modelport.auth.quotas import Quota, QuotaConfig
from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog import validate_metadata
from modelport.catalog.domain import ArtifactRecord, Visibility
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.contract import discovery
from modelport.jobs.domain import JobStatus, utcnow
from modelport.jobs.service import JobService
from modelport.jobs.setup import build_job_service
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from tests.catalog.samples import FIXTURES

PLANTS: dict[str, Any] = yaml.safe_load(
    (FIXTURES / "image_classifier.ai4-metadata.yml").read_text()
)
ISSUER = "https://idp.example.org/realms/lab"
USERS: dict[str, tuple[list[str], list[str]]] = {  # name: (roles, groups)
    "alice": (["user", "trainer", "publisher"], ["lab"]),
    "bob": (["user", "trainer", "publisher"], ["other"]),
    "carol": (["user"], ["lab"]),
    "root": (["admin"], []),
}


def who(user: str) -> str:
    """``user``'s identity: their subject at the one issuer of these tests."""
    return identity_key(ISSUER, user)


@dataclass
class Platform:
    """The app's client, its services, and a bearer header per user."""

    http: httpx.AsyncClient
    jobs: JobService
    catalog: CatalogService
    tokens: TokenStore
    as_: dict[str, dict[str, str]]

    def token(self, user: str, scopes: list[str]) -> dict[str, str]:
        """A bearer header for ``user`` with only ``scopes``."""
        roles, groups = USERS[user]
        issued = self.tokens.issue(who(user), "narrow", scopes, roles=roles, groups=groups)
        return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    settings = Settings(
        data_dir=tmp_path,
        executor_cpus=4,
        executor_gpus=8,
        quotas=QuotaConfig(
            default=Quota(max_concurrent_jobs=2, max_gpus=2),
            users={"root": Quota()},
        ),
    )
    runtime = ModelRuntime([discovery.load("trainer")], settings, ServingMetrics())
    jobs = build_job_service(settings)
    catalog = build_catalog_service(settings)
    app = create_app(settings, runtime, jobs, catalog)
    tokens = TokenStore(jobs.store.engine)
    app.state.authenticator = Authenticator(Settings(auth="oidc"), verifier=None, tokens=tokens)
    headers = {}
    for user, (roles, groups) in USERS.items():
        scopes = list(SCOPES) if "admin" in roles else [s for s in SCOPES if s != "admin"]
        issued = tokens.issue(who(user), "test", scopes, roles=roles, groups=groups)
        headers[user] = {"Authorization": f"Bearer {issued.token}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        jobs.scheduler.stop()  # jobs stay queued: nothing here needs them to run
        yield Platform(http, jobs, catalog, tokens, headers)


# -- jobs -------------------------------------------------------------------------------------


async def submit(platform: Platform, user: str, **body: Any) -> httpx.Response:
    payload = {"model": "trainer", "args": {"epochs": 1}, **body}
    return await platform.http.post("/jobs", json=payload, headers=platform.as_[user])


async def test_a_job_is_seen_only_by_its_owner_and_admins(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    created = await submit(platform, "alice")
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["owner"] == who("alice")
    job_id = job["id"]
    ghost = "0" * 32
    ghost_404 = (await http.get(f"/jobs/{ghost}", headers=as_["bob"])).json()["message"]

    paths = ["", "/metrics", "/logs", "/events", "/artifacts", "/artifacts/weights.json"]
    for path in paths:
        hidden = await http.get(f"/jobs/{job_id}{path}", headers=as_["bob"])
        assert hidden.status_code == 404, path
        assert hidden.json()["message"] == ghost_404.replace(ghost, job_id), path
    for action in ("cancel", "retry"):
        refused = await http.post(f"/jobs/{job_id}/{action}", headers=as_["bob"])
        assert refused.status_code == 404, action
    legacy = f"/v2/models/trainer/train/{job_id}"
    assert (await http.get(legacy, headers=as_["bob"])).status_code == 404
    assert (await http.delete(legacy, headers=as_["bob"])).status_code == 404
    assert (await http.get("/v2/models/trainer/train/", headers=as_["bob"])).json() == []
    bobs = (await http.get("/jobs", headers=as_["bob"])).json()
    assert bobs["total"] == 0
    spying = await http.get("/jobs", params={"owner": who("alice")}, headers=as_["bob"])
    assert spying.json()["total"] == 0

    mine = (await http.get("/jobs", headers=as_["alice"])).json()
    assert [j["id"] for j in mine["jobs"]] == [job_id]
    assert (await http.get(legacy, headers=as_["alice"])).json()["status"] == "running"
    listed = (await http.get("/v2/models/trainer/train/", headers=as_["alice"])).json()
    assert [t["uuid"] for t in listed] == [job_id]

    await submit(platform, "bob")
    everyone = (await http.get("/jobs", headers=as_["root"])).json()
    assert everyone["total"] == 2
    filtered = (await http.get("/jobs", params={"owner": who("alice")}, headers=as_["root"])).json()
    assert [j["id"] for j in filtered["jobs"]] == [job_id]
    assert (await http.get(f"/jobs/{job_id}/logs", headers=as_["root"])).status_code == 200

    cancelled = await http.post(f"/jobs/{job_id}/cancel", headers=as_["alice"])
    assert cancelled.json()["status"] == "cancelled"
    events = await http.get(f"/jobs/{job_id}/events", headers=as_["alice"])
    assert events.status_code == 200
    assert "event: end" in events.text
    retried = await http.post(f"/jobs/{job_id}/retry", headers=as_["root"])
    assert retried.status_code == 201
    assert retried.json()["owner"] == who("alice")  # the retry stays the owner's job


async def test_training_needs_the_trainer_role_and_the_train_scope(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    refused = await submit(platform, "carol")
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "this needs the 'trainer' role, which your account does not have"
    }
    legacy = await http.post("/v2/models/trainer/train/", json={}, headers=as_["carol"])
    assert legacy.status_code == 403
    read_only = platform.token("alice", ["read"])
    assert (
        await http.post("/jobs", json={"model": "trainer"}, headers=read_only)
    ).status_code == 403
    job = (await submit(platform, "alice")).json()
    assert (await http.get(f"/jobs/{job['id']}", headers=read_only)).status_code == 200
    assert (await http.post(f"/jobs/{job['id']}/cancel", headers=read_only)).status_code == 403
    assert platform.jobs.store.find().total == 1


async def test_quotas_refuse_with_429_now_or_403_never(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    never = await submit(platform, "alice", resources={"gpu": 3})
    assert never.status_code == 403
    assert never.json()["message"] == (
        "the job asks for 3 GPUs; your quota allows at most 2 (max_gpus) at a time"
    )
    assert (await submit(platform, "alice", resources={"gpu": 2})).status_code == 201
    gpus = await submit(platform, "alice", resources={"gpu": 1})
    assert gpus.status_code == 429
    assert "GPUs: your queued or running jobs hold 2" in gpus.json()["message"]
    done = (await submit(platform, "alice")).json()
    crowded = await submit(platform, "alice")
    assert crowded.status_code == 429
    assert crowded.json()["message"] == (
        "quota exceeded: concurrent jobs: you have 2 queued or running, the limit is 2"
    )
    platform.jobs.store.transition(done["id"], JobStatus.RUNNING, started_at=utcnow())
    platform.jobs.store.transition(done["id"], JobStatus.SUCCEEDED, finished_at=utcnow())
    assert (await http.post(f"/jobs/{done['id']}/retry", headers=as_["alice"])).status_code == 201
    retry = await http.post(f"/jobs/{done['id']}/retry", headers=as_["alice"])
    assert retry.status_code == 429  # a retry is a new job, within the same quota
    legacy = await http.post("/v2/models/trainer/train/", json={}, headers=as_["alice"])
    assert legacy.status_code == 429
    assert (await submit(platform, "bob")).status_code == 201  # per user
    for _ in range(3):
        assert (await submit(platform, "root", resources={"gpu": 4})).status_code == 201


# -- the catalog ------------------------------------------------------------------------------


def metadata(**changes: Any) -> Any:
    data = copy.deepcopy(PLANTS)
    data.update(changes)
    return validate_metadata(data)


@pytest.fixture
def modules(platform: Platform) -> None:
    """alice's public 'open', group 'shared' (lab), private 'secret' (with an artifact)."""
    registry = platform.catalog.registry
    stored = platform.catalog.artifacts.put(b"weights")
    weights = ArtifactRecord(name="w.bin", sha256=stored.sha256, size=stored.size)
    for name, visibility, library in (
        ("open", Visibility.PUBLIC, "PyTorch"),
        ("shared", Visibility.GROUP, "Keras"),
        ("secret", Visibility.PRIVATE, "XGBoost"),
    ):
        registry.publish(
            name,
            "1.0.0",
            metadata(title=f"Plant {name}", libraries=[library]),
            published_by=who("alice"),
            visibility=visibility,
            groups=["lab"] if visibility is Visibility.GROUP else [],
            artifacts=[weights],
        )


async def names_seen(platform: Platform, user: str) -> list[str]:
    page = (await platform.http.get("/catalog/modules", headers=platform.as_[user])).json()
    return [m["name"] for m in page["modules"]]


@pytest.mark.usefixtures("modules")
async def test_search_shows_only_visible_modules_and_counts_only_them(
    platform: Platform,
) -> None:
    assert await names_seen(platform, "bob") == ["open"]
    assert await names_seen(platform, "carol") == ["open", "shared"]
    assert await names_seen(platform, "alice") == ["open", "secret", "shared"]
    assert await names_seen(platform, "root") == ["open", "secret", "shared"]
    page = (await platform.http.get("/catalog/modules", headers=platform.as_["carol"])).json()
    assert page["total"] == 2
    assert page["facets"]["libraries"] == {"Keras": 1, "PyTorch": 1}
    found = await platform.http.get(
        "/catalog/modules", params={"q": "plant"}, headers=platform.as_["bob"]
    )
    assert [m["name"] for m in found.json()["modules"]] == ["open"]


async def test_the_same_subject_at_another_issuer_is_someone_else(platform: Platform) -> None:
    """Ownership hangs on (issuer, subject): 'alice' from another provider, or a bare 'alice'
    recorded before identities had issuers, owns nothing of alice's, nor she of theirs."""
    registry = platform.catalog.registry
    for owner, name in (("https://evil.example.net|alice", "theirs"), ("alice", "legacy")):
        registry.publish(
            name, "1.0.0", metadata(), published_by=owner, visibility=Visibility.PRIVATE
        )
    assert await names_seen(platform, "alice") == []
    assert await names_seen(platform, "root") == ["legacy", "theirs"]
    impostor = platform.tokens.issue(
        "https://evil.example.net|alice", "t", ["read", "train"], roles=["user", "trainer"]
    )
    job = (await submit(platform, "alice")).json()
    seen = await platform.http.get(
        f"/jobs/{job['id']}", headers={"Authorization": f"Bearer {impostor.token}"}
    )
    assert seen.status_code == 404


@pytest.mark.usefixtures("modules")
async def test_hidden_modules_are_404_on_every_read(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    reads = [
        "/catalog/modules/{m}",
        "/catalog/modules/{m}/versions",
        "/catalog/modules/{m}/versions/1.0.0",
        "/catalog/modules/{m}/versions/latest",
        "/catalog/modules/{m}/metadata",
        "/catalog/modules/{m}/versions/1.0.0/artifacts/w.bin",
        "/v1/catalog/modules/{m}/metadata",
    ]
    for path in reads:
        for user, module in (("bob", "secret"), ("bob", "shared"), ("carol", "secret")):
            hidden = await http.get(path.format(m=module), headers=as_[user])
            assert hidden.status_code == 404, (user, path)
            assert hidden.json() == {"message": f"module '{module}' not found"}
        assert (await http.get(path.format(m="shared"), headers=as_["carol"])).status_code == 200
        assert (await http.get(path.format(m="secret"), headers=as_["alice"])).status_code == 200
        assert (await http.get(path.format(m="secret"), headers=as_["root"])).status_code == 200
    assert (await http.get("/v1/catalog/modules", headers=as_["bob"])).json() == ["open"]
    detail = (await http.get("/v1/catalog/modules/detail", headers=as_["carol"])).json()
    assert [d["name"] for d in detail] == ["open", "shared"]
    module = (await http.get("/catalog/modules/shared", headers=as_["carol"])).json()
    assert (module["visibility"], module["groups"], module["owner"]) == (
        "group",
        ["lab"],
        who("alice"),
    )


@pytest.mark.usefixtures("modules")
async def test_only_the_owner_or_an_admin_changes_a_module(platform: Platform) -> None:
    http, as_ = platform.http, platform.as_
    writes = [
        ("PUT", "/catalog/modules/{m}/aliases/stable", {"version": "1.0.0"}),
        ("POST", "/catalog/modules/{m}/deprecate", {}),
        ("PUT", "/catalog/modules/{m}/visibility", {"visibility": "private"}),
        ("POST", "/catalog/modules/{m}/versions", {"job_id": "0" * 32, "version": "2.0"}),
    ]
    for method, path, body in writes:
        someone_elses = await http.request(
            method, path.format(m="open"), json=body, headers=as_["bob"]
        )
        assert someone_elses.status_code == 403, path
        assert someone_elses.json()["message"] == (
            "module 'open' belongs to someone else: only its owner or an admin may change it"
        )
        invisible = await http.request(
            method, path.format(m="secret"), json=body, headers=as_["bob"]
        )
        assert invisible.status_code == 404, path
        not_publisher = await http.request(
            method, path.format(m="shared"), json=body, headers=as_["carol"]
        )
        assert not_publisher.status_code == 403, path
        assert "'publisher' role" in not_publisher.json()["message"]
    assert platform.catalog.registry.module("open").aliases == {"latest": "1.0.0"}

    alias = await http.put(
        "/catalog/modules/open/aliases/stable", json={"version": "1.0.0"}, headers=as_["alice"]
    )
    assert alias.json()["aliases"] == {"latest": "1.0.0", "stable": "1.0.0"}
    deprecated = await http.post("/catalog/modules/open/deprecate", json={}, headers=as_["root"])
    assert deprecated.json()["deprecated"] is True

    shared = await http.put(
        "/catalog/modules/secret/visibility",
        json={"visibility": "group", "groups": ["other"]},
        headers=as_["alice"],
    )
    assert shared.status_code == 200
    assert (shared.json()["visibility"], shared.json()["groups"]) == ("group", ["other"])
    assert "secret" in await names_seen(platform, "bob")
    no_groups = await http.put(
        "/catalog/modules/secret/visibility", json={"visibility": "group"}, headers=as_["alice"]
    )
    assert no_groups.status_code == 422
    public = await http.put(
        "/catalog/modules/secret/visibility", json={"visibility": "public"}, headers=as_["root"]
    )
    assert (public.json()["visibility"], public.json()["groups"]) == ("public", [])


def module_dir(tmp_path: Path, name: str) -> Path:
    """The typed fixture module, renamed to ``name``."""
    import shutil

    target = tmp_path / name
    shutil.copytree(FIXTURES / "sources" / "typed_module", target)
    return target


async def test_publishing_needs_the_publisher_role_and_server_paths_an_admin(
    platform: Platform, tmp_path: Path
) -> None:
    http, as_ = platform.http, platform.as_
    source = str(module_dir(tmp_path, "src"))
    refused = await http.post("/catalog/modules", json={"source": source}, headers=as_["carol"])
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "this needs the 'publisher' role, which your account does not have"
    }
    no_scope = platform.token("alice", ["read", "train"])
    assert (
        await http.post("/catalog/modules", json={"source": source}, headers=no_scope)
    ).status_code == 403
    for local in (source, f"file://{source}", str(tmp_path / "missing"), "../elsewhere"):
        server_path = await http.post(
            "/catalog/modules", json={"source": local}, headers=as_["alice"]
        )
        assert server_path.status_code == 403, local
        assert "for admins" in server_path.json()["message"]
    assert platform.catalog.registry.names() == []

    created = await http.post(
        "/catalog/modules",
        json={"source": source, "visibility": "group", "groups": ["lab"]},
        headers=as_["root"],
    )
    assert created.status_code == 201, created.text
    name = created.json()["module"]
    assert created.json()["published_by"] == who("root")
    module = platform.catalog.registry.module(name)
    assert (module.owner, module.visibility, module.groups) == (
        who("root"),
        Visibility.GROUP,
        ["lab"],
    )
    assert name in await names_seen(platform, "carol")
    assert name not in await names_seen(platform, "bob")
