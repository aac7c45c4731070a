#!/usr/bin/env python3
"""Batched predictions of the PyTorch pilot: ``modelport serve image-classifier-torch`` under
concurrent image uploads.

    .venv/bin/python bench/torch_predict.py [--connections 32] [--seconds 15]
        [--out bench/results/torch_predict.json]

One server (its predict is ``@batch(max_size=32, max_wait_ms=5)``; on the GPU when the machine
has one); ``--connections`` client threads each posting a 32x32 PNG digit as multipart
(``POST /v2/models/image-classifier-torch/predict``) for ``--seconds`` after a warm-up:
answers per second, p50 and p99 latency, errors, and the mean batch the model saw (from the
server's ``modelport_batch_size`` histogram).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
PATH = "/v2/models/image-classifier-torch/predict"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def digit_png() -> bytes:
    from sklearn.datasets import load_digits

    from image_classifier.dataset import digit_image

    buffer = io.BytesIO()
    digit_image(load_digits().data[7]).save(buffer, format="PNG")
    return buffer.getvalue()


def batch_mean(base: str) -> float | None:
    """The mean batch size the server's histogram counted so far."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("modelport_batch_size_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("modelport_batch_size_count"):
            count += float(line.rsplit(" ", 1)[1])
    return round(total / count, 2) if count else None


def load(base: str, image: bytes, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    answer = http.post(PATH, files={"image": ("7.png", image, "image/png")})
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(took)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "answers": len(latencies),
        "errors": errors[0],
        "req_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2) if ordered else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "torch_predict.json")
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "modelport", "serve", "image-classifier-torch"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        image = digit_png()
        deadline = time.monotonic() + 120
        while True:
            try:
                first = httpx.post(f"{base}{PATH}", files={"image": ("7.png", image)})
                if first.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not answer")
            time.sleep(0.2)
        load(base, image, args.connections, 3)  # warm-up
        warm_mean = batch_mean(base)
        result = load(base, image, args.connections, args.seconds)
        result["batch_mean"] = batch_mean(base)
        result["batch_mean_warm_up"] = warm_mean
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(30)
    import torch

    result["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    result["connections"] = args.connections
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
