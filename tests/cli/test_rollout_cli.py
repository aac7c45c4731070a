"""``modelport catalog rollout ...`` against a real server (``--url``) and the local catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from modelport.catalog.setup import build_catalog_service
from modelport.cli.catalog import app
from modelport.settings import Settings
from tests.cli.test_catalog_remote import ThreadServer, data_dir, server
from tests.gateway.conftest import publish

__all__ = ["data_dir", "server"]

pytestmark = pytest.mark.slow


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["rollout", *args])


@pytest.fixture
def calc(data_dir: Path) -> None:
    catalog = build_catalog_service(Settings(data_dir=data_dir))
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        publish(catalog, "calc", "tests.gateway.models:Double", version)
    catalog.engine.dispose()


def test_a_rollout_on_a_server(calc: None, server: ThreadServer) -> None:
    url = ("--url", server.url)
    started = cli(
        "start",
        "calc",
        "stable",
        "--primary",
        "1.0.0",
        "--canary",
        "1.1.0",
        "--weight",
        "10",
        "--shadow",
        "1.2.0",
        "--window",
        "30",
        *url,
    )
    assert started.exit_code == 0, started.output
    assert "calc stable: active — 1.0.0 90 %, 1.1.0 10 %; shadow 1.2.0" in started.output
    switched = cli("weight", "calc", "stable", "100", *url)
    assert "1.0.0 0 %, 1.1.0 100 %" in switched.output
    rolled = cli("rollback", "calc", "stable", "--reason", "too slow", *url)
    assert "rolled back" in rolled.output
    assert "why: too slow" in rolled.output
    cli("weight", "calc", "stable", "50", *url)
    promoted = cli("promote", "calc", "stable", "--json", *url)
    doc = json.loads(promoted.stdout)
    assert (doc["primary"], doc["canary"], doc["state"]) == ("1.1.0", None, "promoted")
    assert cli("shadow", "calc", "stable", "--off", *url).exit_code == 0
    status = json.loads(cli("status", "calc", "stable", "--json", *url).stdout)
    assert status["shadow"] is None
    assert status["shares"] == {"1.1.0": 100.0}
    history = cli("history", "calc", "stable", *url)
    lines = history.stdout.strip().splitlines()
    assert [line.split()[2].rstrip(":") for line in lines] == [
        "shadow",
        "promote",
        "weight",
        "rollback",
        "weight",
        "start",
    ]
    assert "weight 100.0 → 0.0" in lines[3]
    assert "(too slow)" in lines[3]
    assert cli("end", "calc", "stable", *url).exit_code == 0

    # mistakes: the field named, exit 2
    bad = cli("weight", "calc", "stable", "150", *url)
    assert bad.exit_code == 2
    bad = cli("start", "calc", "stable", "--canary", "9.9.9", "--weight", "5", *url)
    assert bad.exit_code == 2
    assert "canary" in bad.output


def test_a_rollout_on_the_local_catalog(calc: None) -> None:
    started = cli(
        "start", "calc", "stable", "--primary", "1.0.0", "--canary", "1.1.0", "--weight", "25"
    )
    assert started.exit_code == 0, started.output
    assert "1.0.0 75 %, 1.1.0 25 %" in started.output
    assert cli("status", "calc", "stable").exit_code == 0
    missing = cli("status", "calc", "prod")
    assert missing.exit_code == 2
    assert "no rollout on 'prod'" in missing.output
