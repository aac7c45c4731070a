"""``modelport catalog yank`` / ``unyank``, on the local store and on a real server (``--url``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.cli import versions
from modelport.settings import Settings
from tests.cli.test_catalog_remote import ThreadServer, data_dir

__all__ = ["data_dir"]  # the fixture, shared

app = typer.Typer()
versions.register(app)


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_yank_and_unyank_on_the_local_store(data_dir: Path) -> None:
    service = build_catalog_service(Settings(data_dir=data_dir))
    assert seed_examples(service, pilots=False) == ["iris 1.0.0"]

    done = cli("yank", "iris", "1.0.0", "--reason", "a typo in the labels")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "iris 1.0.0: yanked (a typo in the labels)",
        "no longer latest nor listed; still callable by its exact version: "
        "/v2/models/iris/versions/1.0.0/predict/",
    ]
    assert f"local catalog store: {data_dir}" in done.stderr
    record = service.registry.version("iris", "1.0.0")
    assert (record.yanked, record.yanked_reason) == (True, "a typo in the labels")
    assert service.registry.module("iris").latest_version is None

    twice = cli("yank", "iris", "1.0.0", "--reason", "again")
    assert twice.exit_code != 0
    assert "iris 1.0.0 is already yanked" in twice.output
    alias = cli("yank", "iris", "latest", "--reason", "r")
    assert alias.exit_code != 0
    assert "version" in alias.output
    no_reason = cli("yank", "iris", "1.0.0")
    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output

    back = cli("unyank", "iris", "1.0.0", "--json")
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["yanked"] is False
    assert service.registry.module("iris").latest_version == "1.0.0"


@pytest.mark.slow
def test_yank_and_unyank_on_a_server(data_dir: Path) -> None:
    with ThreadServer(data_dir) as server:
        done = cli("yank", "iris", "1.0.0", "--reason", "wrong weights", "--url", server.url)
        assert done.exit_code == 0, done.output
        assert done.stdout.splitlines()[0] == "iris 1.0.0: yanked (wrong weights)"
        assert f"server: {server.url}" in done.stderr
        as_json = cli("unyank", "iris", "1.0.0", "--json", "--url", server.url)
        assert as_json.exit_code == 0, as_json.output
        doc = json.loads(as_json.stdout)
        assert (doc["module"], doc["version"], doc["yanked"]) == ("iris", "1.0.0", False)
        again = cli("unyank", "iris", "1.0.0", "--url", server.url)
        assert again.exit_code == 2
        assert "409: iris 1.0.0 is not yanked" in again.output
        missing = cli("yank", "iris", "9.9.9", "--reason", "r", "--url", server.url)
        assert missing.exit_code == 2
        assert "404: module 'iris' has no version '9.9.9'" in missing.output
