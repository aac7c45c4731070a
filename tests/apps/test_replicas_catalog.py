"""Two replicas of the platform on one PostgreSQL database behave as one catalog: what one
writes, the other lists, finds and serves at once -- although each keeps catalog records for an
hour (``catalog_cache_seconds``) and its own facet index. Driven over HTTP, as through a load
balancer that sends each request to either replica."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.apps.conftest import ReplicaFactory
from tests.catalog.samples import FIXTURES

KEEP = {"catalog_cache_seconds": 3600.0}  # a TTL can't be what makes the others see a write


def module_source(tmp_path: Path, version: str, libraries: list[str]) -> Path:
    """A module project (the plant classifier fixture, serving mp_fixtures' Echo) at ``version``
    with ``libraries`` in its metadata."""
    target = tmp_path / f"source-{version}"
    shutil.copytree(FIXTURES / "sources" / "typed_module", target)
    pyproject = (target / "pyproject.toml").read_text()
    pyproject = pyproject.replace('version = "1.2.0"', f'version = "{version}"')
    pyproject = pyproject.replace(
        "plant_classifier.model:PlantClassifier", "mp_fixtures.typed:Echo"
    )
    (target / "pyproject.toml").write_text(pyproject)
    metadata = yaml.safe_load((target / "ai4-metadata.yml").read_text())
    metadata["libraries"] = libraries
    (target / "ai4-metadata.yml").write_text(yaml.safe_dump(metadata))
    return target


async def publish(http: httpx.AsyncClient, source: Path) -> dict[str, Any]:
    created = await http.post("/catalog/modules", json={"source": str(source)})
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    return record


async def latest(http: httpx.AsyncClient, name: str) -> str:
    """The version the gateway serves as ``name``'s latest (read through its record cache)."""
    found = await http.get(f"/v2/models/{name}")
    assert found.status_code == 200, found.text
    return str(found.json()["version"])


async def found(http: httpx.AsyncClient, **query: Any) -> list[str]:
    page = await http.get("/catalog/modules", params=query)
    assert page.status_code == 200, page.text
    return [hit["name"] for hit in page.json()["modules"]]


async def test_a_write_on_one_replica_is_seen_by_the_other_at_once(
    replica: ReplicaFactory, tmp_path: Path
) -> None:
    async with replica("a", **KEEP) as a, replica("b", **KEEP) as b:
        name = (await publish(a.http, module_source(tmp_path, "1.0.0", ["TensorFlow"])))["module"]
        # B lists it, serves its metadata, finds it by facet
        models = (await b.http.get("/v2/models/")).json()["models"]
        assert [m["name"] for m in models] == [name]
        assert await latest(b.http, name) == "1.0.0"
        assert await found(b.http, libraries="TensorFlow") == [name]
        assert await found(b.http, libraries="PyTorch") == []

        # a new version, published on A (with other libraries): B's cached latest and facet
        # index follow at once
        await publish(a.http, module_source(tmp_path, "2.0.0", ["PyTorch"]))
        assert await latest(b.http, name) == "2.0.0"
        assert await found(b.http, libraries="PyTorch") == [name]
        assert await found(b.http, libraries="TensorFlow") == []
        assert await latest(a.http, name) == "2.0.0"

        # yanked on A: B no longer serves it as latest
        yanked = await a.http.post(
            f"/catalog/modules/{name}/versions/2.0.0/yank", json={"reason": "broken weights"}
        )
        assert yanked.status_code == 200, yanked.text
        assert await latest(b.http, name) == "1.0.0"
        assert await found(b.http, libraries="TensorFlow") == [name]
        # unyanked on B: A follows
        assert (await b.http.delete(f"/catalog/modules/{name}/versions/2.0.0/yank")).is_success
        assert await latest(a.http, name) == "2.0.0"

        # deprecated on B: A's search leaves it out
        deprecated = await b.http.post(f"/catalog/modules/{name}/deprecate", json={})
        assert deprecated.status_code == 200, deprecated.text
        assert await found(a.http, libraries="PyTorch") == []
        assert await found(a.http, libraries="PyTorch", include_deprecated=True) == [name]


@pytest.mark.slow
async def test_an_alias_moved_on_one_replica_is_served_by_the_other_at_once(
    replica: ReplicaFactory, tmp_path: Path
) -> None:
    async with replica("a", **KEEP) as a, replica("b", **KEEP) as b:
        name = (await publish(a.http, module_source(tmp_path, "1.0.0", ["TensorFlow"])))["module"]
        await publish(a.http, module_source(tmp_path, "2.0.0", ["TensorFlow"]))
        stable = f"/catalog/modules/{name}/aliases/stable"
        predict = f"/v2/models/{name}/versions/stable/predict/"

        async def served_by_b() -> str:
            answer = await b.http.post(predict, json={"text": "hi"})
            assert answer.status_code == 200, answer.text
            return answer.headers["x-modelport-model-version"]

        assert (await a.http.put(stable, json={"version": "1.0.0"})).status_code == 200
        assert await served_by_b() == "1.0.0"
        assert (await a.http.put(stable, json={"version": "2.0.0"})).status_code == 200
        assert await served_by_b() == "2.0.0"
        assert (await a.http.delete(stable)).status_code == 200
        gone = await b.http.post(predict, json={"text": "hi"})
        assert gone.status_code == 404
        assert "stable" in gone.json()["message"]
