"""A hostile catalog module against a real ``modelport up --auth oidc`` (issue #12's attacks).

The platform runs as a user runs it: a subprocess on 127.0.0.1 with a real OIDC issuer fixture,
its OIDC client secret in its environment, SQLite in its data directory, and the bwrap sandbox.
A publisher's module (tests/fixtures/site/mp_fixtures/hostile.py) is called by another user and
trained by its owner; from inside its worker and its job it tries to read the database, the data
directory, another module's artifacts and the gateway's /proc; to find secrets in its
environment, reach the network, write outside its directories, see its callers' credentials,
set cookies or serve a page on the platform's origin, and exhaust memory. Every attempt fails,
and the platform keeps serving the other users throughout.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import BaseModel

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.cli.test_up import running_up, stop
from tests.fixtures.oidc_provider import Idp, Key, auth_settings, claims_for, keys, run_idp
from tests.gateway.conftest import publish

__all__ = ["keys"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bwrap") is None and os.environ.get("CI") != "true",
        reason="needs bubblewrap (apt-get install bubblewrap); CI installs it",
    ),
]

SECRET = "the-platform's-oidc-client-secret"
OTHER = "/v2/models/other/predict/"
HOSTILE = "/v2/models/hostile/predict/"


@dataclass
class Up:
    """The running platform: its address, data directory and a bearer header per user."""

    base: str
    data: Path
    bearer: dict[str, dict[str, str]]

    def probe(self, **args: Any) -> dict[str, Any]:
        """What the hostile module reports for ``args`` (called by bob, who is not its owner)."""
        response = httpx.post(
            self.base + HOSTILE, json=args, headers=self.bearer["bob"], timeout=60
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def others_still_served(self) -> None:
        """Another user's call of another module works (the platform keeps serving)."""
        response = httpx.post(
            self.base + OTHER, json={"text": "still here"}, headers=self.bearer["carol"], timeout=60
        )
        assert response.status_code == 200, response.text
        assert response.json()["text"] == "still here"


@pytest.fixture(scope="module")
def platform(keys: dict[str, Key], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with run_idp() as idp:
        idp.publish("a", keys["a1"])
        yield from _platform(idp, keys, tmp_path_factory)


def _platform(
    idp: Idp, keys: dict[str, Key], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Up]:
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    catalog = build_catalog_service(Settings(data_dir=data))
    publish(catalog, "hostile", "mp_fixtures.hostile:Hostile")
    publish(catalog, "other", "mp_fixtures.typed:Echo", files={"weights.bin": b"other's weights"})
    port = free_port()
    given = auth_settings(idp, f"sqlite:///{data}/modelport.db")
    given["oidc"]["role_rules"] = [  # as a config file holds them
        r.model_dump(mode="json", exclude_none=True) if isinstance(r, BaseModel) else r
        for r in given["oidc"]["role_rules"]
    ]
    config = root / "platform.yaml"
    config.write_text(yaml.safe_dump({**given, "port": port, "module_memory_mb": 1024}))
    os.environ["MODELPORT_OIDC_CLIENT_SECRET"] = SECRET  # running_up's environment starts here
    try:
        with running_up(data, "--config", str(config), "--sandbox", "bwrap") as (proc, _):
            base = f"http://127.0.0.1:{port}"
            wait_ready(proc, base, limit_s=60)
            bearer = {}
            for user, groups in (
                ("alice", ["/users", "/trainers", "/publishers"]),
                ("bob", ["/users"]),
                ("carol", ["/users"]),
            ):
                token = keys["a1"].sign(claims_for(idp.issuer("a"), sub=user, groups=groups))
                bearer[user] = {"Authorization": f"Bearer {token}"}
            up = Up(base, data, bearer)
            up.others_still_served()  # "other" is loaded: its artifacts are on disk
            yield up
            returncode, err = stop(proc)
            assert returncode == 0, err
            assert SECRET not in err
    finally:
        del os.environ["MODELPORT_OIDC_CLIENT_SECRET"]


def test_the_module_reads_nothing_of_the_platform(platform: Up) -> None:
    data = platform.data
    other_weights = data / "models" / "other" / "1.0.0" / "weights.bin"
    assert other_weights.read_bytes() == b"other's weights"
    for target in (
        data / "modelport.db",  # where it would issue itself an admin token
        other_weights,
        data / "artifacts",
        Path("/etc/shadow"),
    ):
        seen = platform.probe(probe="read", target=str(target))
        assert seen["read"].startswith("denied: "), (target, seen)
    proc = platform.probe(probe="proc")
    assert proc["ppid"] == 1  # its own PID namespace: the gateway's /proc is not there
    assert SECRET not in str(proc["proc"])
    env = platform.probe(probe="env")
    assert SECRET not in str(env)
    assert set(env) == {"MODELPORT_DATA_DIR", "MODELPORT_MODEL_DIR"}  # its own directories
    platform.others_still_served()


def test_the_module_writes_only_its_own_state(platform: Up) -> None:
    data = platform.data
    for outside in (data / "owned.txt", data / "models" / "other" / "owned", data.parent / "x"):
        platform.probe(probe="write", target=str(outside))
        assert not outside.exists(), outside
    mine = data / "state" / "hostile" / "notes.txt"
    assert platform.probe(probe="write", target=str(mine))["write"] == "written"
    assert mine.read_text() == "owned"


def test_the_module_reaches_no_network(platform: Up) -> None:
    port = platform.base.rsplit(":", 1)[1]
    for target in (f"127.0.0.1:{port}", "127.0.0.1:5432"):  # the platform, PostgreSQL
        reached = platform.probe(probe="connect", target=target)
        assert reached["connect"].startswith("denied: "), target


def test_callers_credentials_never_reach_the_module(platform: Up) -> None:
    headers = {
        **platform.bearer["bob"],
        "Cookie": "modelport_session=bobs-session",
        "X-Forwarded-For": "10.1.2.3",
        "X-Api-Key": "bobs-key",
    }
    response = httpx.post(platform.base + HOSTILE, json={"probe": "html"}, headers=headers)
    seen = platform.probe(probe="headers")  # what the module recorded of the previous request
    shown = str(seen["headers"]).lower()
    for secret in ("bearer", "bobs-session", "10.1.2.3", "bobs-key"):
        assert secret not in shown
    assert seen["client"] is None
    # its answer is data: no cookie, no page on the platform's origin
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")
    document = httpx.get(
        f"{platform.base}/v2/models/hostile/openapi.json", headers=platform.bearer["bob"]
    )
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/json"
    assert "set-cookie" not in document.headers


def test_exhausting_memory_fails_inside_the_module(platform: Up) -> None:
    hoarded = platform.probe(probe="memory", size=4096)
    assert hoarded["memory"].startswith("denied: MemoryError")
    platform.others_still_served()
    assert platform.probe(probe="memory", size=10)["memory"] == 10  # and it recovers


def test_its_training_reaches_nothing_of_the_platform(platform: Up) -> None:
    data = platform.data
    targets = [str(data / "modelport.db"), str(data / "models" / "other" / "1.0.0")]
    created = httpx.post(
        f"{platform.base}/jobs",
        json={"model": "hostile", "args": {"targets": targets}},
        headers=platform.bearer["alice"],
    )
    assert created.status_code == 201, created.text
    url = f"{platform.base}/jobs/{created.json()['id']}"
    deadline = time.monotonic() + 90
    while not (job := httpx.get(url, headers=platform.bearer["alice"]).json())["finished_at"]:
        assert time.monotonic() < deadline, job
        platform.others_still_served()
        time.sleep(0.2)
    assert job["status"] == "succeeded", job["error"]
    report = job["result"]
    for target in targets:
        assert report["read"][target].startswith("denied: "), target
    for sibling in report["wrote"]:
        assert not Path(sibling).exists(), sibling
    assert SECRET not in str(report)
    assert "MODELPORT_DATABASE_URL" not in report["env"]
    assert report["proc"]["ppid"] == 1
    assert report["artifact"]  # what it may do: its own artifact, through its channel
    artifacts = httpx.get(f"{url}/artifacts", headers=platform.bearer["alice"]).json()
    assert "evidence.txt" in str(artifacts)
    # nobody else's: bob cannot see alice's job
    assert httpx.get(url, headers=platform.bearer["bob"]).status_code == 404
