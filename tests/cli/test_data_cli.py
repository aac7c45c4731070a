"""``modelport data`` and ``Client.put_data`` against a real ``modelport up`` on 127.0.0.1:
chunked uploads that resume, listing, download, delete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from modelport.client import Client
from tests.cli.test_cli import free_port, wait_ready
from tests.cli.test_up import running_up, stop
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


def modelport(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    for name in [k for k in env if k.startswith("MODELPORT_")]:
        del env[name]
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_put_ls_get_rm_and_a_resumed_chunked_upload(tmp_path: Path) -> None:
    port = str(free_port())
    body = os.urandom(5000)
    source = tmp_path / "records.ndjson"
    source.write_bytes(body)
    with running_up(tmp_path / "data", "--port", port, "--no-seed") as (proc, base):
        wait_ready(proc, base)
        put = modelport("data", "put", str(source), "--url", base, cwd=tmp_path)
        assert put.returncode == 0, put.stderr
        assert put.stdout.strip() == "data://records.ndjson"
        assert "100%" in put.stderr

        # a chunked upload cut off after its first chunk resumes where it stopped
        head = httpx.put(
            f"{base}/data/again.bin",
            content=body[:1000],
            headers={"Content-Range": "bytes 0-999/5000"},
        )
        assert head.status_code == 202
        seen: list[int] = []
        with Client(base) as client:
            done = client.put_data(
                source, "again.bin", chunk_size=1500, progress=lambda sent, _: seen.append(sent)
            )
        assert done["complete"] is True
        assert seen == [2500, 4000, 5000]  # from byte 1000 on

        listed = modelport("data", "ls", "--url", base, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
            "again.bin",
            "records.ndjson",
        ]
        got = modelport("data", "get", "again.bin", "copy.bin", "--url", base, cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "copy.bin").read_bytes() == body

        removed = modelport("data", "rm", "again.bin", "--url", base, cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr
        missing = modelport("data", "rm", "again.bin", "--url", base, cwd=tmp_path)
        assert missing.returncode != 0
        assert "no file 'again.bin'" in missing.stderr
        assert str(tmp_path / "data") not in missing.stderr
        code, _ = stop(proc)
        assert code == 0
