"""Notebooks on the platform, through the path a user takes: JupyterLab opened as a job, reached
through ``/notebooks/{id}/`` by its owner only, a cell run over the kernel's WebSocket reading
the owner's data, its token revoked when it stops, idle notebooks stopped, quotas applied."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from modelport.jobs.notebook_paths import socket_dir
from tests.api.test_authorization import who
from tests.notebooks.conftest import Platform, tiny_wheel
from tests.notebooks.kernel import run_cell, start_kernel

pytestmark = pytest.mark.slow

CELL = """
import importlib, json, os, subprocess, sys, httpx, numpy, tiny_detector
pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "data/WHEEL"],
                     capture_output=True, text=True)
importlib.invalidate_caches()
import tinypkg
grid = numpy.loadtxt("data/numbers.csv", delimiter=",")
me = httpx.get(os.environ["MODELPORT_URL"] + "/auth/me",
               headers={"Authorization": "Bearer " + os.environ["MODELPORT_TOKEN"]}).json()
try:
    open(DATABASE).close()
    database = "seen"
except OSError as exc:
    database = type(exc).__name__
print(json.dumps({
    "sum": grid.sum(), "subject": me["subject"], "scopes": me["scopes"],
    "token": os.environ["MODELPORT_TOKEN"], "gpus": os.environ["CUDA_VISIBLE_DEVICES"],
    "module": tiny_detector.__file__, "home": os.getcwd(), "database": database,
    "jobs": json.loads(subprocess.run(
        [sys.executable, "-m", "modelport", "jobs", "list", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout)["jobs"],
    "pip": [pip.returncode, pip.stderr[-500:]], "tinypkg": [tinypkg.ANSWER, tinypkg.__file__],
    "published": subprocess.run(
        [sys.executable, "-m", "modelport", "catalog", "publish", "tiny-detector", "--version",
         "1.0.1"], capture_output=True, text=True,
    ).stdout,
}))
"""


def test_a_notebook_on_a_module_next_to_the_owners_data_for_the_owner_only(
    platform: Platform,
) -> None:
    alice = platform.headers["alice"]
    put = httpx.put(platform.url("/data/numbers.csv"), content=b"1,2,3\n4,5,6\n", headers=alice)
    assert put.status_code == 201, put.text
    wheel, data = tiny_wheel()
    assert httpx.put(platform.url(f"/data/{wheel}"), content=data, headers=alice).status_code == 201
    job = platform.start("alice", model="tiny-detector", resources={"cpu": 1, "gpu": 1})
    assert (job["kind"], job["model"], job["owner"]) == ("notebook", "tiny-detector", who("alice"))
    assert str(platform.data) not in json.dumps(job["args"])  # no server path to a client
    state = platform.wait_ready("alice", job["id"])
    assert state["url"] == f"/notebooks/{job['id']}/lab"
    base = platform.url(f"/notebooks/{job['id']}/")

    # JupyterLab's page, through the platform, without Jupyter's token in it
    lab = httpx.get(platform.url(state["url"]), headers=alice)
    assert lab.status_code == 200
    assert "jupyter-config-data" in lab.text
    config = lab.text.split('id="jupyter-config-data" type="application/json">', 1)[1]
    config = config.split("</script>", 1)[0]
    assert json.loads(config)["token"] == ""
    assert "set-cookie" not in lab.headers  # Jupyter's cookies stay upstream
    typed = httpx.get(platform.url(f"/notebooks/{job['id']}"), headers=alice)
    assert (typed.status_code, typed.headers["location"]) == (307, state["url"])

    # nobody else: not bob (404, as for a job of somebody else's), not anonymous (401)
    for path in (state["url"], f"/notebooks/{job['id']}", "api/status"):
        url = platform.url(path) if path.startswith("/") else base + path
        assert httpx.get(url, headers=platform.headers["bob"]).status_code == 404
        assert httpx.get(url).status_code == 401
    assert (
        httpx.get(
            platform.url(f"/jobs/{job['id']}/notebook"), headers=platform.headers["bob"]
        ).status_code
        == 404
    )
    kernel = start_kernel(base, alice)
    channels = base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels"
    with pytest.raises(InvalidStatus) as refused:
        connect(channels, additional_headers=platform.headers["bob"])
    assert refused.value.response.status_code == 403
    # alice's browser session, from another site's page: refused (Jupyter would not check)
    cookie = {"Cookie": f"modelport_session={platform.sessions['alice']}"}
    with pytest.raises(InvalidStatus) as foreign:
        connect(channels, additional_headers={**cookie, "Origin": "https://evil.example"})
    assert foreign.value.response.status_code == 403
    forged = httpx.post(
        base + "api/kernels", json={}, headers={**cookie, "Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    with connect(channels, additional_headers={**cookie, "Origin": platform.base}):
        pass  # from the platform's own pages: accepted

    # a cell: numpy over the owner's data, the module's checkout, the owner's platform token
    database = str(platform.data / "modelport.db")
    cell = CELL.replace("DATABASE", repr(database)).replace("WHEEL", wheel)
    said = run_cell(base, kernel, cell, alice)
    assert said["status"] == "ok", said
    seen = json.loads(said["stdout"])
    home = Path(seen["home"])
    assert seen["sum"] == 21.0
    assert seen["subject"] == "alice"
    assert "admin" not in seen["scopes"]
    assert seen["gpus"] == "0"
    assert Path(seen["module"]).is_relative_to(home / "tiny-detector")  # the editable checkout
    assert (home / "tiny-detector" / "pyproject.toml").is_file()
    assert seen["database"] in ("FileNotFoundError", "PermissionError")  # the sandbox hides it
    # pip installs into the home (the environment is read-only), importable at once
    assert seen["pip"][0] == 0, seen["pip"]
    assert seen["tinypkg"][0] == 42
    assert Path(seen["tinypkg"][1]).is_relative_to(home / ".local" / "notebook-packages")
    assert job["id"] in [j["id"] for j in seen["jobs"]]  # the CLI, as alice, from the notebook
    assert {j["owner"] for j in seen["jobs"]} == {who("alice")}
    # `modelport catalog publish .` of the checkout, as alice: a new version of her module
    assert seen["published"] == "published tiny-detector 1.0.1 (0 artifacts)\n", seen
    published = httpx.get(
        platform.url("/catalog/modules/tiny-detector/versions/1.0.1"), headers=alice
    ).json()
    assert published["published_by"] == who("alice")
    training = httpx.get(platform.url("/v2/models/tiny-detector/train/"), headers=alice)
    assert training.json() == []  # a notebook on a module is not one of its trainings
    token = {"Authorization": f"Bearer {seen['token']}"}
    assert httpx.get(platform.url("/auth/me"), headers=token).status_code == 200

    # Stop: the job is cancelled, its token revoked, its socket gone, JupyterLab unreachable
    stopped = httpx.post(platform.url(f"/jobs/{job['id']}/cancel"), headers=alice)
    assert stopped.status_code == 200, stopped.text
    assert platform.wait_end("alice", job["id"])["status"] == "cancelled"
    assert httpx.get(platform.url("/auth/me"), headers=token).status_code == 401
    assert not socket_dir(job["id"]).exists()
    gone = httpx.get(platform.url(state["url"]), headers=alice)
    assert gone.status_code == 409
    assert "cancelled" in gone.json()["message"]
    log = platform.log("alice", job["id"])
    assert "JupyterLab is ready" in log
    assert "copied tiny-detector's project" in job["args"]["source"]


def test_unused_and_old_notebooks_stop_and_only_their_owner_starts_them_again(
    platform: Platform,
) -> None:
    unused = platform.start("bob", idle_minutes=0.05)  # 3 s unused
    old = platform.start("alice", idle_minutes=10, max_hours=0.002)  # 7.2 s after it starts
    ended = platform.wait_end("bob", unused["id"], limit_s=90)
    assert ended["status"] == "succeeded", platform.log("bob", unused["id"])
    assert ended["result"]["stopped"] == "idle"
    assert "idle for 3 s" in platform.log("bob", unused["id"])
    ended = platform.wait_end("alice", old["id"], limit_s=90)
    assert ended["status"] == "succeeded", platform.log("alice", old["id"])
    assert ended["result"]["stopped"] == "max_lifetime"
    assert ended["result"]["uptime_s"] >= 7.2

    # "Start again" is the owner's (a notebook runs as them), not even an admin's
    retried = httpx.post(platform.url(f"/jobs/{old['id']}/retry"), headers=platform.headers["bob"])
    assert retried.status_code == 404
    again = httpx.post(platform.url(f"/jobs/{old['id']}/retry"), headers=platform.headers["alice"])
    assert again.status_code == 201, again.text
    assert (again.json()["kind"], again.json()["retry_of"]) == ("notebook", old["id"])
    httpx.post(
        platform.url(f"/jobs/{again.json()['id']}/cancel"), headers=platform.headers["alice"]
    )


def test_quotas_and_limits_refuse_a_notebook(platform: Platform) -> None:
    def start(user: str, **body: object) -> httpx.Response:
        return httpx.post(
            platform.url("/jobs"),
            json={"kind": "notebook", **body},
            headers=platform.headers[user],
        )

    beyond_quota = start("bob", resources={"cpu": 0.5, "gpu": 2})  # bob may hold 1 GPU
    assert beyond_quota.status_code == 403, beyond_quota.text
    assert "GPU" in beyond_quota.json()["message"]
    beyond_machine = start("alice", resources={"cpu": 0.5, "gpu": 3})
    assert beyond_machine.status_code == 422
    assert "the local executor has 2" in beyond_machine.json()["resources"][0]
    too_long = start("alice", idle_minutes=10_000, max_hours=5)
    assert too_long.status_code == 422
    assert set(too_long.json()) == {"idle_minutes", "max_hours"}
    assert start("carol").status_code == 403  # not a trainer
    no_model = httpx.post(platform.url("/jobs"), json={}, headers=platform.headers["alice"])
    assert no_model.status_code == 422  # a training names its model
    assert no_model.json() == {"model": ["Field required: the model to train."]}
    odd = httpx.post(platform.url("/jobs"), json={"kind": "vm"}, headers=platform.headers["alice"])
    assert odd.status_code == 422
    assert "kind" in str(odd.json())
    assert start("alice", model="no-such-module").status_code == 404
    pipeline = start("alice", model="chain")
    assert pipeline.status_code == 422
    assert pipeline.json() == {"model": ["'chain' is a pipeline: open its steps' modules"]}

    first = start("bob", resources={"cpu": 0.5, "gpu": 1})
    assert first.status_code == 201, first.text
    try:
        second = start("bob", resources={"cpu": 0.5, "gpu": 1})
        assert second.status_code == 429, second.text  # not now: his one GPU is held
    finally:
        httpx.post(
            platform.url(f"/jobs/{first.json()['id']}/cancel"), headers=platform.headers["bob"]
        )
    assert platform.wait_end("bob", first.json()["id"])["status"] in ("cancelled", "succeeded")
