"""A hostile module's worker in the bwrap sandbox: everything it tries fails, others keep going.

Real worker processes in real Linux namespaces (bubblewrap), through the gateway's HTTP path.
The hostile module (tests/fixtures/site/mp_fixtures/hostile.py) tries to read the platform's
database and data directory, another module's artifacts, the gateway's environment through
/proc, environment secrets, the network, writing outside its own directory, and exhausting
memory.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from modelport.catalog.service import CatalogService
from modelport.sandbox.bwrap import BwrapSandbox
from tests.gateway.conftest import GatewayFactory, publish

HOSTILE = "mp_fixtures.hostile:Hostile"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bwrap") is None and os.environ.get("CI") != "true",
        reason="needs bubblewrap (apt-get install bubblewrap); CI installs it",
    ),
]


async def probe(gw: object, **args: object) -> dict[str, object]:
    client = gw.client  # type: ignore[attr-defined]
    response = await client.post("/v2/models/hostile/predict/", json=args)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def test_a_hostile_module_reaches_nothing_of_the_platform(
    gateway: GatewayFactory,
    catalog: CatalogService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPORT_OIDC_CLIENT_SECRET", "gateway-secret")
    publish(catalog, "hostile", HOSTILE)
    publish(catalog, "other", "mp_fixtures.typed:Echo", files={"weights.bin": b"other's weights"})
    gw = await gateway(sandbox=BwrapSandbox(), module_memory_mb=1024)
    data = tmp_path / "data"
    other = "/v2/models/other/predict/"
    # load "other" first, so its artifacts are on disk
    assert (await gw.client.post(other, json={"text": "x"})).status_code == 200
    other_weights = data / "models" / "other" / "1.0.0" / "weights.bin"
    assert other_weights.is_file()

    for target in (data / "modelport.db", other_weights, data / "catalog", Path("/etc/shadow")):
        seen = await probe(gw, probe="read", target=str(target))
        assert str(seen["read"]).startswith("denied: "), (target, seen)
    proc = await probe(gw, probe="proc")
    assert proc["ppid"] == 1  # its own PID namespace: the gateway is not even visible
    assert "gateway-secret" not in str(proc["proc"])
    assert await probe(gw, probe="env") == {  # its own directories, nothing of the gateway's
        "MODELPORT_DATA_DIR": str(data / "state" / "hostile"),
        "MODELPORT_MODEL_DIR": str(data / "models" / "hostile" / "1.0.0"),
    }

    # writes outside its own directory land nowhere on the host (at most in its private tmpfs)
    for outside in (data / "owned.txt", tmp_path / "owned.txt", data / "models" / "owned"):
        await probe(gw, probe="write", target=str(outside))
        assert not outside.exists(), outside
    readonly = data / "models" / "hostile" / "1.0.0" / "owned"
    assert str((await probe(gw, probe="write", target=str(readonly)))["write"]).startswith(
        "denied: "  # its own artifacts: read-only
    )
    own = data / "state" / "hostile" / "notes.txt"
    assert (await probe(gw, probe="write", target=str(own)))["write"] == "written"
    assert own.read_text() == "owned"  # its own state directory is its to write

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        reached = await probe(gw, probe="connect", target=f"127.0.0.1:{port}")
    assert str(reached["connect"]).startswith("denied: ")

    hoarded = await probe(gw, probe="memory", size=4096)
    assert str(hoarded["memory"]).startswith("denied: MemoryError")
    # and the platform keeps serving: the other module, and the hostile one itself
    assert (await gw.client.post(other, json={"text": "y"})).status_code == 200
    assert (await probe(gw, probe="memory", size=10))["memory"] == 10


async def test_a_module_granted_the_network_reaches_it(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    publish(catalog, "hostile", HOSTILE)
    gw = await gateway(sandbox=BwrapSandbox(), network_modules=["hostile"])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        reached = await probe(gw, probe="connect", target=f"127.0.0.1:{port}")
    assert reached["connect"] == "connected"


async def test_big_uploads_reach_a_sandboxed_worker_through_its_channel(
    gateway: GatewayFactory, catalog: CatalogService
) -> None:
    # bodies over 1 MiB are spooled by the gateway and streamed to the worker in frames:
    # the worker never sees the gateway's files
    publish(catalog, "classifier", "mp_fixtures.vision:Classifier")
    gw = await gateway(sandbox=BwrapSandbox())
    image = os.urandom(3 * 1024 * 1024)
    response = await gw.client.post(
        "/v2/models/classifier/predict/", files={"image": ("big.png", image, "image/png")}
    )
    assert response.status_code == 200, response.text
    assert [s["label"] for s in response.json()][:1] == ["cat"]
