"""The catalog API over a real CatalogService on SQLite: search, versions, metadata, artifacts."""

from __future__ import annotations

import base64
import copy
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from modelport.api.catalog import catalog_router
from modelport.api.errors import install_error_handlers
from modelport.auth.config import LOCAL_PRINCIPAL, identity_key
from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog import validate_metadata
from modelport.catalog.ai4os import ai4os_errors
from modelport.catalog.domain import ArtifactRecord, VersionRecord
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import build_catalog_service
from modelport.db import connect
from modelport.jobs.domain import Job, JobStatus
from modelport.settings import Settings
from tests.api.test_platform import (
    TRAINER,
    PlatformFactory,
    bearer,
    finished,
    platform,
    publish_trainer,
)
from tests.catalog.samples import FIXTURES
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, idp, keys
from tests.gateway.conftest import META

__all__ = ["idp", "keys", "platform"]  # fixtures, shared

BASE = "http://catalog.test"
PLANTS: dict[str, Any] = yaml.safe_load(
    (FIXTURES / "image_classifier.ai4-metadata.yml").read_text()
)
PAYLOAD = bytes(range(256)) * 40  # 10240 bytes


def metadata(**changes: Any) -> Any:
    """The full image-classifier metadata with some fields changed, validated."""
    data = copy.deepcopy(PLANTS)
    data.update(changes)
    return validate_metadata(data)


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path))


def make_client(service: CatalogService, **options: Any) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(service, Settings(), **options))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def client(service: CatalogService) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(service) as http:
        yield http


@pytest.fixture
def catalog(service: CatalogService) -> CatalogService:
    """Three modules: plants (1.0.0, 1.1.0 with an artifact), audio, tabular (deprecated)."""
    reg = service.registry
    reg.publish("plants", "1.0.0", metadata(), source_url="https://github.com/x/plants")
    stored = service.artifacts.put(PAYLOAD)
    weights = ArtifactRecord(
        name="models/weights.bin", sha256=stored.sha256, size=stored.size, media_type=None
    )
    reg.publish("plants", "1.1.0", metadata(), artifacts=[weights])
    reg.publish(
        "audio-tagger",
        "0.3.0",
        metadata(
            title="Bird song tagger",
            summary="Tag bird songs in audio recordings.",
            description="A convolutional network over spectrograms of bird songs.",
            libraries=["PyTorch"],
            tasks=["Classification"],
            categories=["AI4 inference"],
            tags=["birds", "audio"],
            **{"data-type": ["Audio"]},
            license="MIT",
        ),
    )
    reg.publish(
        "tabular-old",
        "2.0.0",
        metadata(
            title="Crop yield regression",
            summary="Predict crop yield from tabular weather data.",
            description="Gradient boosting on weather tables.",
            libraries=["XGBoost"],
            tasks=["Regression"],
            categories=["AI4 trainable"],
            tags=["plants", "agriculture"],
            **{"data-type": ["Tabular"]},
        ),
    )
    reg.deprecate("tabular-old", message="use crop-yield instead")
    return service


# -- search -----------------------------------------------------------------------------------


async def test_search_lists_modules_with_facet_counts(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    page = (await client.get("/catalog/modules")).json()
    assert page["total"] == 2
    assert [m["name"] for m in page["modules"]] == ["audio-tagger", "plants"]
    assert page["facets"]["libraries"] == {"Keras": 1, "PyTorch": 1, "TensorFlow": 1}
    assert page["facets"]["data-type"] == {"Audio": 1, "Image": 1}
    assert page["facets"]["license"] == {"Apache-2.0": 1, "MIT": 1}
    plants = page["modules"][1]
    assert plants["latest_version"] == "1.1.0"
    assert plants["tags"] == ["deep learning", "biodiversity", "plants"]


async def test_search_full_text_ranks_and_filters(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    hits = (await client.get("/catalog/modules", params={"q": "bird"})).json()
    assert [m["name"] for m in hits["modules"]] == ["audio-tagger"]
    assert hits["modules"][0]["score"] > 0
    both = await client.get("/catalog/modules", params={"q": "plant", "include_deprecated": "true"})
    assert {m["name"] for m in both.json()["modules"]} == {"plants", "tabular-old"}
    filtered = await client.get(
        "/catalog/modules",
        params=[("libraries", "TensorFlow"), ("libraries", "Keras"), ("data-type", "Image")],
    )
    assert [m["name"] for m in filtered.json()["modules"]] == ["plants"]
    by_tag = await client.get(
        "/catalog/modules", params={"tags": "plants", "include_deprecated": True}
    )
    assert by_tag.json()["total"] == 2
    none = await client.get("/catalog/modules", params={"tasks": "Regression"})
    assert none.json()["total"] == 0
    licensed = await client.get("/catalog/modules", params={"license": "MIT"})
    assert [m["name"] for m in licensed.json()["modules"]] == ["audio-tagger"]
    category = await client.get("/catalog/modules", params={"categories": "AI4 inference"})
    assert category.json()["total"] == 2


async def test_search_sorts_and_pages(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    params: dict[str, Any] = {"include_deprecated": True, "sort": "name", "limit": 2}
    first = (await client.get("/catalog/modules", params=params)).json()
    second = (await client.get("/catalog/modules", params={**params, "offset": 2})).json()
    assert first["total"] == second["total"] == 3
    assert [m["name"] for m in first["modules"]] == ["audio-tagger", "plants"]
    assert [m["name"] for m in second["modules"]] == ["tabular-old"]
    assert (second["limit"], second["offset"]) == (2, 2)
    created = await client.get(
        "/catalog/modules", params={"sort": "created", "include_deprecated": True}
    )
    assert created.json()["modules"][0]["name"] == "tabular-old"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "popularity"}, "sort"),
        ({"libraries": "Caffe"}, "libraries.0"),
        ({"data-type": "Smell"}, "data-type.0"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_search_refuses_bad_filters_and_sort(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/catalog/modules", params=params)
    assert response.status_code == 422
    assert field in response.json()


# -- modules and versions -----------------------------------------------------------------------


async def test_module_detail_has_latest_version_summary(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    body = (await client.get("/catalog/modules/plants")).json()
    assert body["name"] == "plants"
    assert body["title"] == "Plant species classifier"
    assert body["aliases"] == {"latest": "1.1.0"}
    assert body["latest"]["version"] == "1.1.0"
    assert body["latest"]["artifacts"][0]["name"] == "models/weights.bin"
    assert "metadata" not in body["latest"]
    old = (await client.get("/catalog/modules/tabular-old")).json()
    assert old["deprecated"] is True
    assert old["deprecation_message"] == "use crop-yield instead"


async def test_versions_and_aliases(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    versions = (await client.get("/catalog/modules/plants/versions")).json()
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    assert versions[1]["source_url"] == "https://github.com/x/plants"
    one = (await client.get("/catalog/modules/plants/versions/1.0.0")).json()
    assert one["metadata"]["title"] == "Plant species classifier"
    latest = (await client.get("/catalog/modules/plants/versions/latest")).json()
    assert latest["version"] == "1.1.0"

    put = await client.put("/catalog/modules/plants/aliases/stable", json={"version": "1.0.0"})
    assert put.status_code == 200
    assert put.json()["aliases"] == {"latest": "1.1.0", "stable": "1.0.0"}
    stable = (await client.get("/catalog/modules/plants/versions/stable")).json()
    assert stable["version"] == "1.0.0"
    meta = await client.get("/catalog/modules/plants/metadata", params={"version": "stable"})
    assert meta.json()["title"] == "Plant species classifier"


async def test_alias_errors(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    latest = await client.put("/catalog/modules/plants/aliases/latest", json={"version": "1.0.0"})
    assert latest.status_code == 422
    assert "alias" in latest.json()
    unknown = await client.put("/catalog/modules/plants/aliases/stable", json={"version": "9.9"})
    assert unknown.status_code == 404
    assert "message" in unknown.json()
    version_name = await client.put(
        "/catalog/modules/plants/aliases/1.0.0", json={"version": "1.1.0"}
    )
    # an alias that is a version is refused as such (422), published or not (was 409)
    assert version_name.status_code == 422
    assert version_name.json() == {
        "alias": ["'1.0.0' is a version: an alias is a name such as 'stable'"]
    }
    missing_body = await client.put("/catalog/modules/plants/aliases/stable", json={})
    assert missing_body.status_code == 422
    assert "version" in missing_body.json()


async def test_deprecate_and_undeprecate(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    done = await client.post(
        "/catalog/modules/plants/deprecate", json={"deprecated": True, "message": "superseded"}
    )
    assert done.status_code == 200
    assert (done.json()["deprecated"], done.json()["deprecation_message"]) == (
        True,
        "superseded",
    )
    assert (await client.get("/catalog/modules")).json()["total"] == 1
    back = await client.post("/catalog/modules/plants/deprecate", json={"deprecated": False})
    assert back.json()["deprecated"] is False
    assert back.json()["deprecation_message"] is None
    missing = await client.post("/catalog/modules/nope/deprecate", json={})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/catalog/modules/nope",
        "/catalog/modules/nope/versions",
        "/catalog/modules/plants/versions/9.9.9",
        "/catalog/modules/nope/metadata",
        "/catalog/modules/plants/metadata?version=9.9.9",
        "/catalog/modules/plants/versions/1.1.0/artifacts/missing.bin",
        "/catalog/modules/plants/versions/9.9/artifacts/models/weights.bin",
        "/v1/catalog/modules/nope/metadata",
    ],
)
async def test_unknown_things_are_404_json(
    client: httpx.AsyncClient, catalog: CatalogService, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


# -- metadata ---------------------------------------------------------------------------------


async def test_metadata_json(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    response = await client.get("/catalog/modules/plants/metadata")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    expected = validate_metadata(PLANTS).model_dump(by_alias=True, mode="json", exclude_none=True)
    assert body == expected
    assert body["links"]["ai4_template"] == "ai4-template/2.2.0"
    assert ai4os_errors(body) == {}  # what the catalog serves passes AI4OS's own schema


async def test_metadata_json_ld_is_dcat_ap(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    response = await client.get(
        "/catalog/modules/plants/metadata", headers={"Accept": "application/ld+json"}
    )
    assert response.headers["content-type"] == "application/ld+json"
    doc = response.json()
    assert {"dcat", "dct", "foaf", "spdx"} <= set(doc["@context"])
    assert doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert doc["@type"] == "dcat:Dataset"
    assert doc["@id"] == f"{BASE}/catalog/modules/plants/versions/1.1.0"
    assert doc["dct:title"] == "Plant species classifier"
    assert doc["dct:description"].startswith("The deep learning revolution")
    assert doc["dcat:keyword"] == ["deep learning", "biodiversity", "plants"]
    assert doc["dcat:version"] == "1.1.0"
    assert doc["dct:license"] == {"@id": "https://spdx.org/licenses/Apache-2.0"}
    assert doc["dct:issued"]["@value"] == "2019-02-19"
    assert doc["dct:modified"]["@value"] == "2024-05-06"
    assert doc["dct:source"] == {"@id": "https://github.com/ai4os-hub/plants-classification"}
    assert doc["dcat:landingPage"]["@id"].endswith("README.md")
    [dist] = doc["dcat:distribution"]
    assert dist["@type"] == "dcat:Distribution"
    assert dist["dcat:downloadURL"]["@id"] == (
        f"{BASE}/catalog/modules/plants/versions/1.1.0/artifacts/models/weights.bin"
    )
    assert dist["spdx:checksum"]["spdx:checksumValue"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert dist["spdx:checksum"]["spdx:algorithm"]["@id"] == "spdx:checksumAlgorithm_sha256"
    # the download URL it names is served
    path = dist["dcat:downloadURL"]["@id"].removeprefix(BASE)
    assert (await client.get(path)).content == PAYLOAD


async def test_json_ld_of_minimal_metadata(
    client: httpx.AsyncClient, service: CatalogService
) -> None:
    minimal = yaml.safe_load((FIXTURES / "minimal.ai4-metadata.yml").read_text())
    service.registry.publish("dummy", "0.1", validate_metadata(minimal))
    doc = (
        await client.get(
            "/catalog/modules/dummy/metadata", headers={"Accept": "application/ld+json"}
        )
    ).json()
    assert doc["dcat:distribution"] == []
    assert "dct:license" not in doc
    assert "dct:issued" in doc  # the publication date stands in for a missing creation date
    assert doc["dcat:landingPage"] == {"@id": "https://github.com/ai4os-hub/ai4os-demo-app"}


# -- artifacts --------------------------------------------------------------------------------

ARTIFACT = "/catalog/modules/plants/versions/1.1.0/artifacts/models/weights.bin"


async def test_artifact_full_download_with_checksums(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    response = await client.get(ARTIFACT)
    assert response.status_code == 200
    assert response.content == PAYLOAD
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    b64 = base64.b64encode(hashlib.sha256(PAYLOAD).digest()).decode()
    assert response.headers["etag"] == f'"{sha}"'
    assert response.headers["repr-digest"] == f"sha-256=:{b64}:"
    assert response.headers["digest"] == f"sha-256={b64}"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert response.headers["content-type"] == "application/octet-stream"
    assert 'filename="weights.bin"' in response.headers["content-disposition"]
    by_alias = await client.get(ARTIFACT.replace("1.1.0", "latest"))
    assert by_alias.content == PAYLOAD


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=100-100", 100, 101),
        ("bytes=10000-", 10000, 10240),
        ("bytes=-40", 10200, 10240),
        ("bytes=-999999", 0, 10240),
        ("bytes=10200-999999", 10200, 10240),
    ],
)
async def test_artifact_ranges(
    client: httpx.AsyncClient, catalog: CatalogService, header: str, start: int, end: int
) -> None:
    response = await client.get(ARTIFACT, headers={"Range": header})
    assert response.status_code == 206
    assert response.content == PAYLOAD[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(PAYLOAD)}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["etag"] == f'"{hashlib.sha256(PAYLOAD).hexdigest()}"'
    assert "repr-digest" in response.headers  # of the whole representation, as RFC 9530 says


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=50-10", "bytes=-0"])
async def test_unsatisfiable_range_is_416(
    client: httpx.AsyncClient, catalog: CatalogService, header: str
) -> None:
    response = await client.get(ARTIFACT, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-1,5-9", "bytes=x-y"])
async def test_unsupported_range_serves_the_whole_artifact(
    client: httpx.AsyncClient, catalog: CatalogService, header: str
) -> None:
    response = await client.get(ARTIFACT, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == PAYLOAD


async def test_if_none_match_is_304(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    etag = (await client.get(ARTIFACT)).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.get(ARTIFACT, headers={"If-None-Match": header})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
    changed = await client.get(ARTIFACT, headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


async def test_empty_artifact(client: httpx.AsyncClient, service: CatalogService) -> None:
    stored = service.artifacts.put(b"")
    empty = ArtifactRecord(name="empty.txt", sha256=stored.sha256, size=0, media_type="text/plain")
    service.registry.publish("dummy", "1.0", metadata(), artifacts=[empty])
    path = "/catalog/modules/dummy/versions/1.0/artifacts/empty.txt"
    whole = await client.get(path)
    assert (whole.status_code, whole.content) == (200, b"")
    assert whole.headers["content-type"].startswith("text/plain")
    ranged = await client.get(path, headers={"Range": "bytes=0-"})
    assert ranged.status_code == 416
    assert ranged.headers["content-range"] == "bytes */0"


# -- publishing -------------------------------------------------------------------------------


def module_dir(tmp_path: Path) -> Path:
    target = tmp_path / "typed_module"
    shutil.copytree(FIXTURES / "sources" / "typed_module", target)
    return target


async def test_publish_from_a_directory(
    client: httpx.AsyncClient, service: CatalogService, tmp_path: Path
) -> None:
    source = module_dir(tmp_path)
    created = await client.post("/catalog/modules", json={"source": str(source)})
    assert created.status_code == 201, created.text
    record = VersionRecord.model_validate(created.json())
    assert record.version == "1.2.0"
    assert record.metadata["title"] == "Plant species classifier"
    assert service.registry.names() == [record.module]
    again = await client.post("/catalog/modules", json={"source": str(source)})
    assert again.status_code == 409
    assert "immutable" in again.json()["message"]
    other = await client.post("/catalog/modules", json={"source": str(source), "version": "1.3"})
    assert other.json()["version"] == "1.3"
    versions = (await client.get(f"/catalog/modules/{record.module}/versions")).json()
    assert [v["version"] for v in versions] == ["1.3", "1.2.0"]


@pytest.fixture
def git_module(tmp_path: Path) -> Path:
    """The typed module committed to a fresh git repository (branch main)."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    source = module_dir(tmp_path)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "first"]):
        subprocess.run([git, *args], cwd=source, check=True, env=env)
    return source


async def test_publish_from_a_git_checkout(client: httpx.AsyncClient, git_module: Path) -> None:
    source = git_module
    created = await client.post(
        "/catalog/modules", json={"source": f"file://{source}", "ref": "main"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["source_url"] == f"file://{source}"
    assert created.json()["commit"]


async def test_publish_invalid_metadata_lists_every_error(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = module_dir(tmp_path)
    meta = yaml.safe_load((source / "ai4-metadata.yml").read_text())
    del meta["title"]
    meta["libraries"] = ["Caffe"]
    meta["links"]["source_code"] = "not a url"
    (source / "ai4-metadata.yml").write_text(yaml.safe_dump(meta))
    response = await client.post("/catalog/modules", json={"source": str(source)})
    assert response.status_code == 422
    errors = response.json()
    assert set(errors) == {"title", "libraries.0"}  # a source_code that is no URI: a warning
    assert all(isinstance(m, list) and m for m in errors.values())


async def test_publish_refuses_bad_sources(client: httpx.AsyncClient) -> None:
    scheme = await client.post("/catalog/modules", json={"source": "ext::sh -c evil"})
    assert scheme.status_code == 422
    option = await client.post("/catalog/modules", json={"source": "--upload-pack=evil"})
    assert option.status_code == 422
    no_body = await client.post("/catalog/modules", json={})
    assert no_body.status_code == 422
    assert "source" in no_body.json()


async def test_publish_a_training_jobs_artifacts(
    client: httpx.AsyncClient, catalog: CatalogService, tmp_path: Path
) -> None:
    assert catalog.jobs is not None
    job = Job(
        model="plants",
        model_spec="plants.model:Plants",
        args={"data": "s3://bucket/plants-2025", "epochs": 3},
    )
    job.artifacts_url = str(tmp_path / "job-artifacts" / job.id)
    catalog.jobs.create(job)
    catalog.jobs.transition(job.id, JobStatus.RUNNING)
    (Path(job.artifacts_url) / "ckpt").mkdir(parents=True)
    (Path(job.artifacts_url) / "ckpt" / "weights.pt").write_bytes(b"trained weights")

    running = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "2.0.0"}
    )
    assert running.status_code == 409
    catalog.jobs.transition(job.id, JobStatus.SUCCEEDED)

    created = await client.post(
        "/catalog/modules/plants/versions",
        json={"job_id": job.id, "version": "2.0.0", "base_version": "1.0.0"},
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["lineage"] == {
        "job_id": job.id,
        "base_version": "1.0.0",
        "data_url": "s3://bucket/plants-2025",
    }
    assert [a["name"] for a in record["artifacts"]] == ["ckpt/weights.pt"]
    assert record["metadata"]["title"] == "Plant species classifier"
    download = await client.get("/catalog/modules/plants/versions/2.0.0/artifacts/ckpt/weights.pt")
    assert download.content == b"trained weights"
    assert (await client.get("/catalog/modules/plants")).json()["latest_version"] == "2.0.0"
    doc = (
        await client.get(
            "/catalog/modules/plants/metadata", headers={"Accept": "application/ld+json"}
        )
    ).json()
    assert doc["dct:isVersionOf"]["@id"].endswith("/catalog/modules/plants/versions/1.0.0")

    duplicate = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "2.0.0"}
    )
    assert duplicate.status_code == 409
    # a job is published once: as another version too, the answer names the first one
    again = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "2.1.0"}
    )
    assert again.status_code == 409
    assert again.json() == {"message": f"job {job.id} is already published as plants 2.0.0"}
    assert (await client.get("/catalog/modules/plants")).json()["latest_version"] == "2.0.0"
    unknown_job = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": "f" * 32, "version": "3.0"}
    )
    assert unknown_job.status_code == 404
    other = catalog.jobs.create(Job(model="plants", model_spec="plants.model:Plants"))
    catalog.jobs.transition(other.id, JobStatus.RUNNING)
    catalog.jobs.transition(other.id, JobStatus.SUCCEEDED)
    unknown_base = await client.post(
        "/catalog/modules/plants/versions",
        json={"job_id": other.id, "version": "3.0", "base_version": "0.0.1"},
    )
    assert unknown_base.status_code == 404


# -- the AI4OS read shape -----------------------------------------------------------------------


async def test_ai4os_v1_routes(client: httpx.AsyncClient, catalog: CatalogService) -> None:
    names = (await client.get("/v1/catalog/modules")).json()
    assert names == ["audio-tagger", "plants", "tabular-old"]
    detail = (await client.get("/v1/catalog/modules/detail")).json()
    assert [d["name"] for d in detail] == names
    audio = detail[0]
    assert "description" not in audio
    assert "links" not in audio
    assert audio["title"] == "Bird song tagger"
    assert audio["summary"] == "Tag bird songs in audio recordings."
    assert audio["tags"] == ["birds", "audio"]
    assert audio["libraries"] == ["PyTorch"]
    assert audio["tasks"] == ["Classification"]
    assert audio["categories"] == ["AI4 inference"]
    assert audio["data-type"] == ["Audio"]
    assert audio["license"] == "MIT"
    assert audio["metadata_version"] == "2.3.0"
    meta = (await client.get("/v1/catalog/modules/plants/metadata")).json()
    assert meta == validate_metadata(PLANTS).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    assert ai4os_errors(meta) == {}
    ld = await client.get(
        "/v1/catalog/modules/plants/metadata", headers={"Accept": "application/ld+json"}
    )
    assert ld.json()["@type"] == "dcat:Dataset"


async def test_base_path_prefixes_every_route(catalog: CatalogService) -> None:
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(catalog, Settings(base_path="/api")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        assert (await http.get("/api/catalog/modules")).json()["total"] == 2
        assert (await http.get("/api/v1/catalog/modules")).status_code == 200
        assert (await http.get("/catalog/modules")).status_code == 404
        doc = (
            await http.get(
                "/api/catalog/modules/plants/metadata", headers={"Accept": "application/ld+json"}
            )
        ).json()
        assert doc["@id"] == f"{BASE}/api/catalog/modules/plants/versions/1.1.0"


# -- yanking, aliases, job publications -----------------------------------------------------------

ALL_YANKED = (
    "every version of module 'plants' is yanked: there is no latest version; a yanked "
    "version still answers by its exact number (versions/<version>)"
)


async def test_yank_and_unyank_a_version(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    yank = "/catalog/modules/plants/versions/1.1.0/yank"
    done = await client.post(yank, json={"reason": "weights from the wrong run"})
    assert done.status_code == 200, done.text
    record = done.json()
    assert (record["version"], record["yanked"], record["yanked_reason"]) == (
        "1.1.0",
        True,
        "weights from the wrong run",
    )
    assert record["yanked_by"] == LOCAL_PRINCIPAL.identity  # auth off: the local admin
    assert record["yanked_at"] is not None

    module = (await client.get("/catalog/modules/plants")).json()
    assert module["latest_version"] == "1.0.0"
    assert module["latest"]["version"] == "1.0.0"
    assert module["aliases"] == {"latest": "1.0.0"}
    assert module["yanked_versions"] == ["1.1.0"]
    listed = (await client.get("/catalog/modules/plants/versions")).json()
    assert [v["version"] for v in listed] == ["1.0.0"]
    assert listed[0]["yanked"] is False
    everything = await client.get(
        "/catalog/modules/plants/versions", params={"include_yanked": "true"}
    )
    assert [(v["version"], v["yanked"], v["yanked_reason"]) for v in everything.json()] == [
        ("1.1.0", True, "weights from the wrong run"),
        ("1.0.0", False, None),
    ]
    exact = (await client.get("/catalog/modules/plants/versions/1.1.0")).json()
    assert (exact["yanked"], exact["yanked_reason"]) == (True, "weights from the wrong run")
    weights = await client.get(
        "/catalog/modules/plants/versions/1.1.0/artifacts/models/weights.bin"
    )
    assert weights.content == PAYLOAD  # its files stay downloadable by its number
    latest = (await client.get("/catalog/modules/plants/versions/latest")).json()
    assert latest["version"] == "1.0.0"
    found = (await client.get("/catalog/modules", params={"q": "plant"})).json()
    assert {m["name"]: m["latest_version"] for m in found["modules"]}["plants"] == "1.0.0"

    again = await client.post(yank, json={"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["message"].startswith("plants 1.1.0 is already yanked")
    undone = await client.delete(yank)
    assert undone.status_code == 200
    assert (undone.json()["yanked"], undone.json()["yanked_reason"]) == (False, None)
    assert (await client.get("/catalog/modules/plants")).json()["latest_version"] == "1.1.0"
    not_yanked = await client.delete(yank)
    assert not_yanked.status_code == 409
    assert not_yanked.json() == {"message": "plants 1.1.0 is not yanked"}


async def test_yank_refuses_bad_requests_naming_the_field(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    yank = "/catalog/modules/plants/versions/1.1.0/yank"
    for body in ({"reason": ""}, {"reason": "  "}):
        refused = await client.post(yank, json=body)
        assert refused.status_code == 422
        assert refused.json() == {
            "reason": ["say why the version is yanked (e.g. 'wrong weights')"]
        }
    no_reason = await client.post(yank, json={})
    assert no_reason.status_code == 422
    assert list(no_reason.json()) == ["reason"]
    too_long = await client.post(yank, json={"reason": "x" * 1001})
    assert too_long.json() == {"reason": ["a reason has at most 1000 characters"]}
    alias = await client.post("/catalog/modules/plants/versions/latest/yank", json={"reason": "r"})
    assert alias.status_code == 422
    assert list(alias.json()) == ["version"]
    for path in (
        "/catalog/modules/plants/versions/9.9.9/yank",
        "/catalog/modules/no/versions/1.0/yank",
    ):
        missing = await client.post(path, json={"reason": "r"})
        assert missing.status_code == 404
        assert "message" in missing.json()
    assert (await client.get("/catalog/modules/plants")).json()["yanked_versions"] == []


async def test_a_module_whose_every_version_is_yanked_has_no_latest(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    for version in ("1.0.0", "1.1.0"):
        done = await client.post(
            f"/catalog/modules/plants/versions/{version}/yank", json={"reason": "withdrawn"}
        )
        assert done.status_code == 200
    module = (await client.get("/catalog/modules/plants")).json()
    assert (module["latest_version"], module["latest"], module["aliases"]) == (None, None, {})
    for path in (
        "/catalog/modules/plants/versions/latest",
        "/catalog/modules/plants/metadata",
        "/v1/catalog/modules/plants/metadata",
    ):
        gone = await client.get(path)
        assert gone.status_code == 404, path
        assert gone.json() == {"message": ALL_YANKED}
    assert (await client.get("/catalog/modules/plants/versions/1.0.0")).json()["yanked"] is True
    assert (await client.get("/catalog/modules/plants/versions")).json() == []
    names = [m["name"] for m in (await client.get("/catalog/modules")).json()["modules"]]
    assert "plants" not in names
    shown = await client.get("/catalog/modules", params={"include_yanked": "true"})
    hits = {m["name"]: m["latest_version"] for m in shown.json()["modules"]}
    assert hits["plants"] is None
    assert "plants" not in (await client.get("/v1/catalog/modules")).json()
    detail = await client.get("/v1/catalog/modules/detail")
    assert detail.status_code == 200
    assert "plants" not in [m["name"] for m in detail.json()]


async def test_aliases_are_set_moved_and_removed(
    client: httpx.AsyncClient, catalog: CatalogService
) -> None:
    alias = "/catalog/modules/plants/aliases/stable"
    assert (await client.put(alias, json={"version": "1.0.0"})).json()["aliases"][
        "stable"
    ] == "1.0.0"
    moved = await client.put(alias, json={"version": "1.1.0"})
    assert moved.status_code == 200
    assert moved.json()["aliases"] == {"latest": "1.1.0", "stable": "1.1.0"}
    removed = await client.delete(alias)
    assert removed.status_code == 200
    assert removed.json()["aliases"] == {"latest": "1.1.0"}
    gone = await client.delete(alias)
    assert gone.status_code == 404
    assert gone.json() == {"message": "module 'plants' has no alias 'stable'"}
    latest = await client.delete("/catalog/modules/plants/aliases/latest")
    assert latest.status_code == 422
    assert latest.json() == {"alias": ["'latest' always follows the highest version."]}
    assert (await client.delete("/catalog/modules/nope/aliases/stable")).status_code == 404

    # an alias keeps naming a version yanked after it was set, but is not moved onto one
    await client.put(alias, json={"version": "1.0.0"})
    await client.post("/catalog/modules/plants/versions/1.0.0/yank", json={"reason": "bad"})
    kept = (await client.get("/catalog/modules/plants")).json()
    assert (kept["aliases"]["stable"], kept["yanked_versions"]) == ("1.0.0", ["1.0.0"])
    stable = (await client.get("/catalog/modules/plants/versions/stable")).json()
    assert (stable["version"], stable["yanked"]) == ("1.0.0", True)
    onto = await client.put("/catalog/modules/plants/aliases/prod", json={"version": "1.0.0"})
    assert onto.status_code == 409
    assert onto.json()["message"].startswith("plants 1.0.0 is yanked (bad)")


async def test_a_job_page_learns_whether_its_job_was_published(
    client: httpx.AsyncClient, catalog: CatalogService, tmp_path: Path
) -> None:
    assert catalog.jobs is not None
    job = catalog.jobs.create(
        Job(model="plants", model_spec="p", artifacts_url=str(tmp_path / "none"))
    )
    publication = f"/catalog/jobs/{job.id}/publication"
    assert (await client.get(publication)).json() == {
        "job_id": job.id,
        "published": False,
        "module": None,
        "version": None,
    }
    catalog.jobs.transition(job.id, JobStatus.RUNNING)
    catalog.jobs.transition(job.id, JobStatus.SUCCEEDED)
    created = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "1.2.0"}
    )
    assert created.status_code == 201, created.text
    assert (await client.get(publication)).json() == {
        "job_id": job.id,
        "published": True,
        "module": "plants",
        "version": "1.2.0",
    }
    twice = await client.post(
        "/catalog/modules/plants/versions", json={"job_id": job.id, "version": "1.3.0"}
    )
    assert twice.status_code == 409
    assert twice.json() == {"message": f"job {job.id} is already published as plants 1.2.0"}
    unknown = await client.get(f"/catalog/jobs/{'f' * 32}/publication")
    assert unknown.status_code == 404
    assert "message" in unknown.json()


# -- on the platform: owners, admins, and serving a yanked version by its number ----------------


@pytest.mark.slow
async def test_on_the_platform_a_yanked_version_still_serves_by_its_number(
    platform: PlatformFactory, idp: Idp, keys: dict[str, Key], tmp_path: Path
) -> None:
    idp.publish("a", keys["a1"])
    given = auth_settings(idp, f"sqlite:///{tmp_path}/platform.db", catalog_cache_seconds=0)
    settings = Settings(data_dir=tmp_path / "data", **given)
    tokens = TokenStore(connect(settings.store_url()))
    scopes = [s for s in SCOPES if s != "admin"]
    ada, ben, boss = (identity_key(idp.issuer("a"), who) for who in ("alice", "bob", "root"))
    alice = bearer(tokens, ada, scopes, ["user", "trainer", "publisher"])
    bob = bearer(tokens, ben, scopes, ["user", "trainer", "publisher"])
    root = bearer(tokens, boss, list(SCOPES), ["admin"])
    publish_trainer(settings, owner=ada)
    build_catalog_service(settings).registry.publish(
        "trainer", "1.1.0", META, load_spec=TRAINER, package="mp_fixtures", published_by=ada
    )
    yank = "/catalog/modules/trainer/versions/{}/yank"
    predict = "/v2/models/trainer/predict/?x=2"
    exact = "/v2/models/trainer/versions/{}/predict/?x=2"

    async with platform(**given) as p:
        body = {"reason": "trained on the wrong split"}
        refused = await p.http.post(yank.format("1.1.0"), json=body, headers=bob)
        assert refused.status_code == 403
        assert "belongs to someone else" in refused.json()["message"]
        done = await p.http.post(yank.format("1.1.0"), json=body, headers=alice)
        assert done.status_code == 200, done.text
        assert done.json()["yanked_by"] == ada

        by_name = await p.http.post(predict, headers=bob)
        assert by_name.status_code == 200, by_name.text
        assert by_name.headers["x-modelport-model-version"] == "1.0.0"
        assert "warning" not in by_name.headers
        pinned = await p.http.post(exact.format("1.1.0"), headers=bob)
        assert pinned.status_code == 200, pinned.text
        assert pinned.headers["x-modelport-model-version"] == "1.1.0"
        assert pinned.headers["warning"] == (
            '299 modelport "version 1.1.0 is yanked: trained on the wrong split"'
        )

        # the admin yanks the last one: no latest, but every version still answers by number
        assert (await p.http.post(yank.format("1.0.0"), json=body, headers=root)).status_code == 200
        gone = await p.http.post(predict, headers=bob)
        assert gone.status_code == 404
        assert gone.json()["message"].startswith("every version of module 'trainer' is yanked")
        assert (await p.http.post(exact.format("1.0.0"), headers=bob)).status_code == 200
        listed = (await p.http.get("/v2/models/", headers=bob)).json()["models"]
        assert "trainer" not in [m["name"] for m in listed]

        # a training of an exact (yanked) version runs, and is published once
        created = await p.http.post(
            "/jobs",
            json={"model": "trainer", "version": "1.0.0", "args": {"epochs": 1}},
            headers=alice,
        )
        assert created.status_code == 201, created.text
        job = await finished(p.http, created.json()["id"], headers=alice)
        assert (job["status"], job["version"]) == ("succeeded", "1.0.0"), job["error"]
        publication = f"/catalog/jobs/{job['id']}/publication"
        assert (await p.http.get(publication, headers=alice)).json()["published"] is False
        assert (await p.http.get(publication, headers=bob)).status_code == 404  # not his job
        new = {"job_id": job["id"], "version": "1.2.0", "base_version": "1.0.0"}
        published = await p.http.post("/catalog/modules/trainer/versions", json=new, headers=alice)
        assert published.status_code == 201, published.text
        assert (await p.http.get(publication, headers=alice)).json() == {
            "job_id": job["id"],
            "published": True,
            "module": "trainer",
            "version": "1.2.0",
        }
        again = {**new, "version": "1.3.0"}
        twice = await p.http.post("/catalog/modules/trainer/versions", json=again, headers=alice)
        assert twice.status_code == 409
        assert twice.json()["message"].endswith("is already published as trainer 1.2.0")
        module = (await p.http.get("/catalog/modules/trainer", headers=bob)).json()
        assert (module["latest_version"], module["yanked_versions"]) == (
            "1.2.0",
            ["1.1.0", "1.0.0"],
        )


def test_a_yank_warning_is_one_quoted_line_of_ascii_whatever_the_reason() -> None:
    from modelport.api.gateway import yank_warning

    value = yank_warning("1.0.0", 'labels "swapped"\r\nSet-Cookie: x=1 \\ café ' + "y" * 400)
    text = value.decode("ascii")
    assert text.startswith('299 modelport "version 1.0.0 is yanked: labels swapped Set-Cookie')
    assert text.endswith('"')
    assert text.count('"') == 2
    assert not set(text) & {"\r", "\n", "\\"}
    assert len(text) < 330
