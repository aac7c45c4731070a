"""``modelport up`` makes the bundled examples available whatever the catalog already holds.

The README's first curl (iris) must answer on a data directory that already has modules; an
example that cannot be published is named on start with what to run; an existing module of an
example's name is never overwritten nor given another version.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelport.catalog.bundled import INSTALL_PILOTS, provide_examples
from modelport.catalog.service import CatalogService
from modelport.catalog.setup import PILOTS, build_catalog_service
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.cli.test_up import IRIS, running_up, stop
from tests.gateway.conftest import META

EXAMPLES = [  # all installed here
    "iris",
    "image-classifier",
    "stream-anomaly",
    "sim-postprocess",
    "tiny-detector",
]


@pytest.fixture
def service(tmp_path: Path) -> CatalogService:
    return build_catalog_service(Settings(data_dir=tmp_path / "data"))


def publish_echo(service: CatalogService) -> None:
    service.registry.publish(
        "echo", "1.0.0", META, load_spec="mp_fixtures.typed:Echo", package="mp_fixtures"
    )


@pytest.mark.slow
def test_up_publishes_the_examples_into_a_catalog_holding_another_module(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    publish_echo(build_catalog_service(Settings(data_dir=data_dir)))
    port = str(free_port())
    with running_up(data_dir, "--port", port) as (proc, base):
        wait_ready(proc, base, limit_s=60)
        predicted = httpx.post(base + IRIS, timeout=60)  # the README's first call
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()[0]["label"] == "setosa"
        names = {m["name"] for m in httpx.get(f"{base}/v2/models/").json()["models"]}
        assert names == {"echo", *EXAMPLES}
        returncode, err = stop(proc)
        assert returncode == 0, err
    assert "published the bundled examples: iris 1.0.0, image-classifier 1.0.0" in err

    with running_up(data_dir, "--port", port) as (proc, base):  # a second start adds nothing
        wait_ready(proc, base, limit_s=60)
        versions = httpx.get(f"{base}/catalog/modules/iris/versions").json()
        returncode, err = stop(proc)
        assert returncode == 0, err
    assert "published the bundled examples" not in err
    assert [v["version"] for v in versions] == ["1.0.0"]


@pytest.mark.slow
def test_no_seed_publishes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = str(free_port())
    with running_up(data_dir, "--port", port, "--no-seed") as (proc, base):
        wait_ready(proc, base, limit_s=60)
        assert httpx.get(f"{base}/v2/models/").json() == {"models": []}
        missing = httpx.post(base + IRIS, timeout=30)
        returncode, err = stop(proc)
        assert returncode == 0, err
    assert missing.status_code == 404
    assert "published the bundled examples" not in err


def test_only_the_missing_examples_are_published(service: CatalogService) -> None:
    publish_echo(service)
    service.registry.publish(
        "stream-anomaly", "0.1.0", META, load_spec="mp_fixtures.typed:Echo", package="mine"
    )
    report = provide_examples(service)
    assert report.published == [
        "iris 1.0.0",
        "image-classifier 1.0.0",
        "sim-postprocess 1.0.0",
        "tiny-detector 1.0.0",
    ]
    assert report.problems == []
    assert report.lines() == [
        "published the bundled examples: iris 1.0.0, image-classifier 1.0.0, sim-postprocess "
        "1.0.0, tiny-detector 1.0.0"
    ]
    # someone's own module of an example's name: neither overwritten nor given a version
    mine = service.registry.versions("stream-anomaly")
    assert [(v.version, v.package) for v in mine] == [("0.1.0", "mine")]
    again = provide_examples(service)
    assert (again.published, again.lines()) == ([], [])
    assert sorted(service.registry.names()) == sorted(["echo", *EXAMPLES])
    assert [v.version for v in service.registry.versions("iris")] == ["1.0.0"]


def test_an_example_that_is_not_installed_is_named_with_what_to_run(
    service: CatalogService,
) -> None:
    pilots = [*PILOTS, ("weather_nowcast.model:Nowcast", "weather-nowcast")]
    report = provide_examples(service, pilots)
    assert "weather-nowcast 1.0.0" not in report.published
    assert len(report.published) == len(EXAMPLES)
    [problem] = report.problems
    assert "the example modules weather-nowcast are not installed" in problem
    assert INSTALL_PILOTS in problem
    assert "uv run --extra examples modelport up" in problem
    assert report.lines()[1:] == [problem]


def test_an_example_that_fails_to_import_says_why(service: CatalogService) -> None:
    # a real installed package whose attribute is missing: importable, not a model
    report = provide_examples(service, [("modelport.examples.iris:NoSuchModel", "iris-broken")])
    [problem] = report.problems
    assert problem.startswith("the example iris-broken is installed but cannot be imported")
    assert "NoSuchModel" in problem
    assert report.published == ["iris 1.0.0"]
