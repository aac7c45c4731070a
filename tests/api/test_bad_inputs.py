"""Bad input gets a 422 naming the field, a model's failure a 500 with an error id: through real
HTTP, on both serving paths a user takes — ``modelport serve`` (the model in the server's
process) and ``modelport up`` (each module in its own worker process, behind the gateway).

Every answer is checked for what must never reach a client: a server path (the upload's
temporary copy, ``/dev/shm/modelport-uploads-.../0``) and a traceback. The server's log is
checked too: one ERROR record, with the id and the traceback, per model failure; none for a
caller's mistake.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.cli.test_up import env_for
from tests.conftest import subprocess_env
from tests.gateway.conftest import publish

pytestmark = pytest.mark.slow

REFUSER = "mp_fixtures.refusals:Refuser"
SECRET_PATH = "/srv/modelport-secret/weights.pt"  # what the refuser's failure names
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
#: what no answer may hold: server paths (the upload area, temp dirs), a traceback
LEAKS = ("modelport-uploads-", "/dev/shm", "/tmp/", "/srv/", "Traceback", 'File "')


@dataclass
class Server:
    """A running server: its base URL, its log file, the place in it where a test started."""

    how: str
    base: str
    log: Path
    mark: int = 0

    def url(self, model: str) -> str:
        """The predict URL of ``model``."""
        return f"{self.base}/v2/models/{model}/predict/"

    def new_log(self) -> str:
        """What the server logged since the test started."""
        return self.log.read_bytes()[self.mark :].decode(errors="replace")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module", params=["serve", "up"])
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``modelport serve`` of the pilots and the refuser, or ``modelport up`` with them
    published, on a free port; stopped afterwards."""
    how: str = request.param
    root = tmp_path_factory.mktemp(how)
    port = str(free_port())
    log = root / "server.log"
    if how == "serve":
        command = [sys.executable, "-m", "modelport", "serve", "image-classifier"]
        command += ["stream-anomaly", "sim-postprocess", REFUSER, "--port", port]
        env = subprocess_env(
            MODELPORT_DATA_DIR=str(root / "data"),
            STREAM_ANOMALY_STATE_DIR=str(root / "stream-anomaly"),
        )
    else:
        data_dir = root / "data"
        catalog = build_catalog_service(Settings(data_dir=data_dir))
        published = seed_examples(catalog)
        assert {"image-classifier", "stream-anomaly", "sim-postprocess"} <= {
            entry.split()[0] for entry in published
        }
        publish(catalog, "refuser", REFUSER)
        command = [sys.executable, "-m", "modelport", "up", "--port", port]
        env = env_for(data_dir)
    proc = _start(command, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, limit_s=120)
        yield Server(how, base, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def server(running: Server) -> Server:
    """The running server, its log read from this test's start."""
    running.mark = running.log.stat().st_size
    return running


def post(server: Server, model: str, **kwargs: Any) -> httpx.Response:
    """POST to a model's predict (a cold start may come first) and check for leaks."""
    response = httpx.post(server.url(model), timeout=120, **kwargs)
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} in {response.text}"
    return response


def refused(server: Server, model: str, **kwargs: Any) -> dict[str, list[str]]:
    """The field errors of a 422; the server logged no error for it."""
    response = post(server, model, **kwargs)
    assert response.status_code == 422, response.text
    body: dict[str, list[str]] = response.json()
    assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in body.values())
    logged = server.new_log()
    assert "ERROR" not in logged, logged
    assert "Traceback" not in logged, logged
    return body


def test_a_text_file_given_as_an_image(server: Server) -> None:
    body = refused(
        server, "image-classifier", files={"image": ("notes.txt", b"just words\n", "text/plain")}
    )
    assert list(body) == ["image"]
    [message] = body["image"]
    assert message.startswith("'notes.txt' is not an image.")
    assert "PNG, JPEG" in message


def test_a_png_given_as_the_ndjson_batch(server: Server) -> None:
    body = refused(server, "stream-anomaly", files={"batch": ("plot.png", PNG, "image/png")})
    assert list(body) == ["batch"]
    [message] = body["batch"]
    assert message.startswith("'plot.png' is not UTF-8 text.")
    assert "Expected NDJSON (one JSON object a line) or CSV with a header row" in message


def test_an_empty_stream_anomaly_form(server: Server) -> None:
    # as a browser sends the form left empty: blank fields, an empty file input
    form: dict[str, Any] = {
        name: (None, "") for name in ("duration", "bytes_in", "port", "timestamp", "records")
    }
    form["batch"] = ("", b"", "application/octet-stream")
    form["learn"] = (None, "true")
    body = refused(server, "stream-anomaly", files=form)
    record = {"duration", "bytes_in", "bytes_out", "packets", "port", "protocol"}
    assert set(body) == record
    assert all("a batch in `records` or `batch`" in body[name][0] for name in record)


def test_a_partial_stream_anomaly_record_names_the_missing_fields(server: Server) -> None:
    body = refused(server, "stream-anomaly", json={"duration": 1.5, "port": 443})
    missing = ["Missing data for required field."]
    assert body == {name: missing for name in ("bytes_in", "bytes_out", "packets", "protocol")}


def test_a_text_file_given_as_an_npz(server: Server) -> None:
    body = refused(
        server, "sim-postprocess", files={"file": ("run.txt", b"t,p\n0,1\n", "text/plain")}
    )
    assert list(body) == ["file"]
    [message] = body["file"]
    assert message.startswith("'run.txt' cannot be read: not an .npz file")
    assert "Expected the simulation output as a NumPy .npz file" in message


def test_an_unknown_sim_postprocess_variable(server: Server) -> None:
    body = refused(server, "sim-postprocess", data={"demo": "true", "variables": "salinity"})
    assert body == {
        "variables": [
            "Unknown variable 'salinity': the file's variables are pressure, temperature, time."
        ]
    }


def test_a_module_raising_invalid_input(server: Server) -> None:
    assert refused(server, "refuser", params={"number": 3}) == {
        "number": ["3 is odd: give an even number"]
    }
    halved = post(server, "refuser", params={"number": 4})
    assert halved.status_code == 200, halved.text
    assert halved.json() == {"half": 2}


def test_a_module_naming_an_upload_by_its_path_shows_its_own_name(server: Server) -> None:
    body = refused(server, "refuser", files={"upload": ("mine.csv", b"a,b\n", "text/csv")})
    assert body == {"upload": ["cannot use mine.csv: not wanted here"]}


def error_id_of(response: httpx.Response, error_type: str) -> str:
    """The error id of a model failure's 500, after checking its whole body."""
    assert response.status_code == 500, response.text
    body = response.json()
    error_id = body["error_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", error_id), body
    assert body == {
        "message": f"the model failed: {error_type} (error id {error_id})",
        "error_id": error_id,
    }
    return str(error_id)


@pytest.mark.parametrize("with_upload", [False, True])
def test_an_unexpected_model_exception(server: Server, with_upload: bool) -> None:
    files = {"upload": ("mine.csv", b"a,b\n", "text/csv")} if with_upload else None
    response = post(server, "refuser", params={"crash": "true"}, files=files)
    error_id = error_id_of(response, "FileNotFoundError")
    logged = server.new_log()
    # one ERROR record: the id, the whole message (the path is the server's to see), the traceback
    errors = [line for line in logged.splitlines() if "ERROR" in line]
    assert len(errors) == 1, logged
    where = "POST /v2/models/refuser/predict/"
    assert f"error {error_id} on {where}: FileNotFoundError: [Errno 2] No such" in errors[0]
    after = logged.split(errors[0], 1)[1]
    assert after.lstrip().startswith("Traceback (most recent call last):"), logged
    assert logged.count("Traceback") == 1, logged
    if not with_upload:
        assert SECRET_PATH in after
    # the next request is served as usual
    assert post(server, "refuser", params={"number": 2}).json() == {"half": 1}
