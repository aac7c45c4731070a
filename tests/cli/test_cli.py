"""The command line, run as a user runs it: real subprocesses, a real server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


def modelport(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        check=False,
    )


def wait_ready(proc: subprocess.Popen[str], base: str, limit_s: float = 30) -> None:
    """Wait until the server answers /health/ready with 200 (fail with its stderr if it dies)."""
    deadline = time.monotonic() + limit_s
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"{base}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_models_lists_installed_entry_points() -> None:
    result = modelport("models", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"]: row for row in json.loads(result.stdout)}
    assert names["legacy"]["kind"] == "deepaas"
    assert names["echo"]["kind"] == "typed"
    table = modelport("models")
    assert "legacy" in table.stdout


def test_metadata_prints_metadata_and_schemas() -> None:
    result = modelport("metadata", "legacy")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["description"] == "A legacy test module"
    assert doc["predict_args"]["properties"]["number"]["maximum"] == 100
    assert doc["produces"] == ["application/json", "text/plain", "image/png", "*/*"]


def test_predict_with_a_file_warms_first_and_prints_json(tmp_path: Path) -> None:
    image = tmp_path / "cat.jpg"
    image.write_bytes(b"123456")
    result = modelport(
        "predict", "legacy", "--number", "5", "--data", str(image), "--names", "a", "--names", "b"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["number"], out["size"], out["names"]) == (5, 6, ["a", "b"])
    assert out["original_filename"] == "cat.jpg"
    assert out["content_type"] == "image/jpeg"
    assert image.read_bytes() == b"123456", "the user's file is never touched"


def test_predict_module_without_train_or_warm() -> None:
    """DEEPaaS's CLI crashes on such modules (#189, #190)."""
    result = modelport("predict", "legacy-bare", "--x", "21")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "OK", "predictions": [21, 42]}


def test_predict_calls_warm(tmp_path: Path) -> None:
    result = modelport("predict", "broken-warm", "--x", "1")
    assert result.returncode == 3
    assert "failed to warm" in result.stderr
    assert "weights.bin not found" in result.stderr


def test_predict_binary_result_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "result.png"
    result = modelport(
        "predict", "legacy", "--number", "2", "--accept", "image/png", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_predict_options_come_from_the_model() -> None:
    result = modelport("predict", "legacy", "--help")
    assert result.returncode == 0
    for option in ("--number", "--flavour", "--data", "--accept", "--names", "--label"):
        assert option in result.stdout
    assert "One of: foo, bar." in result.stdout


def test_predict_errors_have_documented_exit_codes() -> None:
    invalid = modelport("predict", "legacy", "--number", "500", "--flavour", "x")
    assert invalid.returncode == 2
    errors = json.loads(invalid.stderr[: invalid.stderr.rindex("}") + 1])
    assert set(errors) == {"number", "flavour"}
    failed = modelport("predict", "legacy", "--number", "13")
    assert failed.returncode == 1
    assert "RuntimeError: unlucky thirteen" in failed.stderr
    assert "Traceback" not in failed.stderr
    unknown = modelport("predict", "nope")
    assert unknown.returncode == 2
    assert "no model named 'nope'" in unknown.stderr
    bad_option = modelport("predict", "legacy", "--nope", "1")
    assert bad_option.returncode == 2


def test_serve_refuses_to_start_when_a_model_cannot_load() -> None:
    broken = modelport("serve", "broken-import", "--port", str(free_port()))
    assert broken.returncode == 3
    assert "mp_fixtures.broken_import" in broken.stderr
    assert "a_module_that_does_not_exist" in broken.stderr
    assert "Traceback" not in broken.stderr
    cold = modelport("serve", "broken-warm", "--port", str(free_port()))
    assert cold.returncode == 3
    assert "model 'broken-warm'" in cold.stderr
    assert "weights.bin not found" in cold.stderr


def test_serve_answers_over_real_http() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport",
            "serve",
            "legacy",
            "echo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--base-path",
            "/mp",
        ],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/mp"
    try:
        wait_ready(proc, base)
        models = httpx.get(f"{base}/v2/models/").json()["models"]
        assert [m["name"] for m in models] == ["legacy", "echo"]
        result = httpx.post(f"{base}/v2/models/legacy/predict", params={"number": 4})
        assert result.status_code == 200
        assert result.json()["number"] == 4
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr  # a SIGTERM is a clean stop
    assert "Traceback" not in stderr
    assert f"modelport serving legacy, echo on {base}/v2/models/" in stderr


def test_serve_with_the_catalog_seeds_the_examples(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "serve", "echo", "--catalog", "--port", str(port)],
        env=subprocess_env(MODELPORT_DATA_DIR=str(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        page = httpx.get(f"{base}/catalog/modules", params={"q": "iris"}).json()
        assert [m["name"] for m in page["modules"]] == ["iris"]
        assert page["facets"]["license"] == {"Apache-2.0": 1}
        assert "iris" in httpx.get(f"{base}/v1/catalog/modules").json()  # and installed pilots
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/catalog/modules" in paths
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def test_serve_refuses_a_public_address_without_auth() -> None:
    refused = modelport("serve", "echo", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in refused.stderr
    assert "--allow-insecure-bind" in refused.stderr


@pytest.mark.parametrize(
    ("host", "allowed", "loud"),
    [
        ("127.0.0.1", False, False),
        ("127.8.9.10", False, False),
        ("localhost", False, False),
        ("::1", False, False),
        ("0.0.0.0", True, True),
        ("192.0.2.7", True, True),
    ],
)
def test_bind_check(
    host: str, allowed: bool, loud: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelport.cli.serve import check_bind
    from modelport.settings import Settings

    check_bind(Settings(host=host, allow_insecure_bind=allowed))
    assert ("WITHOUT AUTHENTICATION" in capsys.readouterr().err) is loud
