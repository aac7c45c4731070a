"""``modelport up`` as a user runs it: a real subprocess on 127.0.0.1, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env
from tests.gateway.conftest import META

pytestmark = pytest.mark.slow

IRIS = "/v2/models/iris/predict/?sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2"


def workers(data_dir: Path) -> list[int]:
    """Gateway worker processes serving from ``data_dir`` (from /proc, any parent)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # the worker itself, not the bwrap processes around it (their command lines hold its own)
        is_bwrap = cmdline.split(" ", 1)[0].endswith("bwrap")
        if "modelport.apps.worker" in cmdline and str(data_dir) in cmdline and not is_bwrap:
            found.append(int(entry))
    return found


def up_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelport", "up", *args]


def env_for(data_dir: Path) -> dict[str, str]:
    env = subprocess_env(MODELPORT_DATA_DIR=str(data_dir))
    for name in [k for k in env if k.startswith("MODELPORT_") and k != "MODELPORT_DATA_DIR"]:
        del env[name]
    return env


@contextmanager
def running_up(data_dir: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``modelport up ARGS`` until ready; SIGTERM it afterwards (killed if it lingers)."""
    proc = subprocess.Popen(
        up_command(*args),
        env=env_for(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = args[args.index("--port") + 1] if "--port" in args else None
        yield proc, f"http://127.0.0.1:{port}" if port else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def stop(proc: subprocess.Popen[str], within: float = 10) -> tuple[int, str]:
    """SIGTERM ``proc``; its exit status and stderr, within ``within`` seconds."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=within)
    return proc.returncode, err


def test_up_serves_the_seeded_catalog_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = str(free_port())
    with running_up(data_dir, "--port", port) as (proc, base):
        wait_ready(proc, base, limit_s=60)
        predicted = httpx.post(base + IRIS, timeout=30)
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()[0]["label"] == "setosa"
        assert "x-modelport-cold-start" in predicted.headers
        modules = httpx.get(f"{base}/catalog/modules")
        assert modules.status_code == 200
        assert "iris" in modules.text
        assert len(workers(data_dir)) == 1

        started = time.monotonic()
        returncode, err = stop(proc)
        assert returncode == 0, err
        assert time.monotonic() - started < 8
        assert "published the bundled examples: iris" in err
        assert f"modelport platform on {base}" in err
        assert workers(data_dir) == []


def test_a_config_file_sets_the_port_and_the_models_kept_loaded(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    catalog = build_catalog_service(Settings(data_dir=data_dir))
    for name, spec in (
        ("echo", "mp_fixtures.typed:Echo"),
        ("trainer", "mp_fixtures.typed:Trainer"),
    ):
        catalog.registry.publish(name, "1.0.0", META, load_spec=spec, package="mp_fixtures")
    port = free_port()
    config = tmp_path / "platform.yaml"
    config.write_text(f"port: {port}\nmax_loaded_models: 1\n")
    base = f"http://127.0.0.1:{port}"
    with running_up(data_dir, "--config", str(config)) as (proc, _):
        wait_ready(proc, base, limit_s=60)
        assert httpx.post(f"{base}/v2/models/echo/predict/?text=a", timeout=30).status_code == 200
        trained = httpx.post(f"{base}/v2/models/trainer/predict/?x=2", timeout=30)
        assert trained.json() == {"y": 2.0}
        metrics = httpx.get(f"{base}/metrics").text
        assert 'modelport_gateway_unloads_total{model="echo",reason="lru"} 1.0' in metrics
        deadline = time.monotonic() + 10
        while len(workers(data_dir)) != 1:  # echo's worker exits after its channel closes
            assert time.monotonic() < deadline, workers(data_dir)
            time.sleep(0.05)
        returncode, err = stop(proc)
        assert returncode == 0, err
        # the catalog was not empty: the bundled examples it lacked are published all the same
        assert "published the bundled examples: iris" in err
        assert workers(data_dir) == []


def test_an_unknown_config_key_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("port: 5123\nmax_loaded_modles: 1\n")
    result = subprocess.run(
        up_command("--config", str(config)),
        env=env_for(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "max_loaded_modles" in result.stderr


def test_a_public_address_without_auth_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        up_command("--host", "0.0.0.0", "--port", str(free_port())),
        env=env_for(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created
