"""``modelport serve`` of a batched model over real HTTP: concurrent calls merged, metrics kept."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env


def test_serve_merges_concurrent_requests_of_a_batched_model() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport",
            "serve",
            "mp_fixtures.batched:Sizes",
            "--port",
            str(port),
        ],
        env=subprocess_env(MODELPORT_PREDICT_CONCURRENCY="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    async def load() -> list[dict[str, int]]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def call(n: int) -> dict[str, int]:
                answer = await client.post("/v2/models/sizes/predict/", json={"n": n, "delay": 0.2})
                assert answer.status_code == 200, answer.text
                return answer.json()  # type: ignore[no-any-return]

            return await asyncio.gather(*(call(n) for n in range(24)))

    try:
        wait_ready(proc, base)
        answers = asyncio.run(load())
        assert [a["n"] for a in answers] == list(range(24))
        assert max(a["batch"] for a in answers) > 1
        metrics = httpx.get(f"{base}/metrics").text
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    calls = round(sum(1 / a["batch"] for a in answers))
    assert f'modelport_batch_size_count{{model="sizes"}} {calls}.0' in metrics
    assert 'modelport_batch_size_sum{model="sizes"} 24.0' in metrics
    assert 'modelport_batch_queue_wait_seconds_count{model="sizes"} 24.0' in metrics
    assert "Traceback" not in stderr
