"""The batching benchmark's Ray Serve app: the same MLP behind ``@serve.batch``.

    .venv/bin/python bench/models/mlp_ray.py PORT

starts Ray on this machine (``ray.init(_node_ip_address="127.0.0.1", include_dashboard=False)``),
Serve's HTTP proxy on 127.0.0.1:PORT and one replica, whose ``predict`` takes batches of up to
64 requests, waiting at most 5 ms (``batch_wait_timeout_s=0.005``), then sleeps until SIGINT or
SIGTERM. ``POST /v2/models/mlp/predict/`` with ``{"x": [256 floats]}`` answers the 8 scores.
Same weights (seed 0, hidden width ``$MLP_HIDDEN``, read here and passed to the replica) and numpy
code (``mlp_core``) as ``mlp_batched:Mlp``.
"""

from __future__ import annotations

import signal
import sys
import threading

import mlp_core
import ray
from ray import serve
from starlette.requests import Request

ROUTE = "/v2/models/mlp/predict"


@serve.deployment(num_replicas=1, max_ongoing_requests=256, ray_actor_options={"num_cpus": 0})
class Mlp:
    """A 2-layer MLP over 256 floats: a batch of requests is one matrix product per layer."""

    def __init__(self, hidden: int) -> None:
        self.w1, self.w2 = mlp_core.weights(hidden)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def predict(self, x: list[list[float]]) -> list[list[float]]:
        return mlp_core.forward(self.w1, self.w2, x)

    async def __call__(self, request: Request) -> list[float]:
        body = await request.json()
        return await self.predict(body["x"])  # type: ignore[no-any-return]


def main() -> None:
    port = int(sys.argv[1])
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(Mlp.bind(mlp_core.hidden_width()), name="mlp", route_prefix=ROUTE)
    print(f"ray serve ready on 127.0.0.1:{port}{ROUTE}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
