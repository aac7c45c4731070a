"""Open Catalog benchmarks: search latency over HTTP on 10,000 modules, and importing 1,000.

    .venv/bin/python bench/catalog.py [--rounds 3] [--modules 10000] [--queries 500]
                                      [--imports 1000]

1. Search: ``--modules`` realistic modules (titles, summaries and descriptions drawn from word
   lists, facets from the AI4OS vocabularies) are published through the Registry into a fresh
   SQLite data directory. The catalog router is served by uvicorn on 127.0.0.1 in a subprocess
   (a minimal FastAPI app, as in tests/api/test_catalog_api.py), and one keep-alive client
   sends ``--queries`` searches one after another: 1-2 word queries, words with facet filters,
   and an empty query with facet filters. Latency = request sent → body read.
2. Import: ``--imports`` module directories (ai4-metadata.yml + pyproject.toml) are written,
   then published one by one with ``CatalogService.publish_directory`` into a fresh data dir;
   the wall time of the publishing loop is measured.

Each round restarts the server (search) and uses a fresh data dir (import); medians over rounds.
Results go to bench/results/catalog.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from modelport.catalog import validate_metadata
from modelport.catalog.setup import build_catalog_service
from modelport.catalog.vocabulary import CATEGORIES, DATA_TYPES, LIBRARIES, TASKS
from modelport.settings import Settings

HERE = Path(__file__).resolve().parent
SEED = 20260101


def words(text: str) -> list[str]:
    """The words of a word list."""
    return text.split()


SUBJECTS = words("""plant leaf flower tree forest crop soil wheat maize rice bird insect bee
fish whale
coral plankton cloud rain snow wind flood drought wildfire glacier ocean river lake coast
satellite radar lidar seismic volcano earthquake galaxy star planet neutron particle detector
protein genome cell tumor retina skin xray brain heart lung traffic vehicle pedestrian bridge
building road power grid battery solar turbine air pollution ozone aerosol methane carbon
speech music language document invoice handwriting chemistry molecule crystal alloy""")
ACTIONS = words("""classifier detector segmentation forecaster tagger regressor estimator generator
translator denoiser tracker counter recognizer clustering anomaly summarizer emulator
downscaler retrieval captioner""")
ADJECTIVES = words("""fast robust lightweight multiscale probabilistic pretrained transformer
convolutional recurrent graph bayesian ensemble hybrid physics-informed self-supervised
explainable federated quantized""")
FILLER = words("""model trained on curated observations from european research infrastructures and
evaluated against reference baselines with cross validation uncertainty calibrated predictions
for operational use by scientists the network ingests raw measurements and returns labelled
outputs with confidence scores supports retraining on new data through the training facility
""")
TAGS = [*SUBJECTS[:40], "deep learning", "earth observation", "biodiversity", "climate", "health"]
LICENSES = ["Apache-2.0", "MIT", "BSD-3-Clause", "GPL-3.0-only", "CC-BY-4.0", "AGPL-3.0-only"]


def module_metadata(rng: random.Random, index: int) -> dict[str, Any]:
    """One realistic module's v2 metadata."""
    subject, other = rng.sample(SUBJECTS, 2)
    action = rng.choice(ACTIONS)
    title = f"{rng.choice(ADJECTIVES).capitalize()} {subject} {action}"
    words = rng.choices(FILLER, k=rng.randint(40, 120))
    return {
        "metadata_version": "2.3.0",
        "title": title,
        "summary": f"A {action} for {subject} and {other} data ({index}).",
        "description": f"{title}. " + " ".join(words) + f" {subject} {other}.",
        "dates": {
            "created": f"20{rng.randint(18, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "updated": "2025-06-01",
        },
        "links": {"source_code": f"https://github.com/bench/{subject}-{action}-{index}"},
        "libraries": rng.sample(LIBRARIES, rng.randint(1, 2)),
        "tasks": rng.sample(TASKS, rng.randint(1, 3)),
        "categories": rng.sample(CATEGORIES, rng.randint(1, 2)),
        "tags": sorted({*rng.sample(TAGS, rng.randint(1, 5)), subject}),
        "data-type": rng.sample(DATA_TYPES, rng.randint(1, 2)),
        "license": rng.choice(LICENSES),
    }


def populate(data_dir: Path, count: int) -> float:
    """Publish ``count`` generated modules through the Registry; return the seconds it took."""
    service = build_catalog_service(Settings(data_dir=data_dir))
    rng = random.Random(SEED)
    started = time.perf_counter()
    for i in range(count):
        meta = validate_metadata(module_metadata(rng, i))
        service.registry.publish(f"module-{i:05d}", f"1.{i % 7}.0", meta, published_by="bench")
    return time.perf_counter() - started


def serve(data_dir: Path, port: int) -> None:
    """Serve the catalog router (the subprocess side)."""
    import uvicorn
    from fastapi import FastAPI

    from modelport.api.catalog import catalog_router
    from modelport.api.errors import install_error_handlers

    settings = Settings(data_dir=data_dir)
    app = FastAPI()
    install_error_handlers(app, False)
    app.include_router(catalog_router(build_catalog_service(settings), settings))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queries(count: int) -> list[str]:
    """A fixed mix of searches: words, words + facets, facets only."""
    rng = random.Random(SEED + 1)
    facets = [
        ("libraries", LIBRARIES),
        ("tasks", TASKS),
        ("categories", CATEGORIES),
        ("data-type", DATA_TYPES),
        ("license", LICENSES),
        ("tags", TAGS),
    ]
    out = []
    for _ in range(count):
        kind = rng.random()
        params: list[tuple[str, str]] = []
        if kind < 0.65:  # 1-2 words, sometimes a prefix
            words = rng.sample([*SUBJECTS, *ACTIONS], rng.randint(1, 2))
            if rng.random() < 0.3:
                words[-1] = words[-1][: max(3, len(words[-1]) - 2)]
            params.append(("q", " ".join(words)))
        if kind >= 0.4:  # facet filters (with words: 0.40-0.65; alone: 0.65-1)
            for facet, values in rng.sample(facets, rng.randint(1, 2)):
                params.append((facet, rng.choice(values)))
        out.append("/catalog/modules?" + urllib.parse.urlencode(params))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_search(data_dir: Path, paths: list[str]) -> dict[str, float]:
    """Start the server, warm it up, time every search; return p50/p95/p99 in ms."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the catalog server did not start") from None
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path in paths[:50]:  # warm-up: imports, SQLite page cache, FTS index
            conn.request("GET", path)
            conn.getresponse().read()
        latencies = []
        totals = []
        for path in paths:
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
            totals.append(json.loads(body)["total"])
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
    return {
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "mean_hits": statistics.mean(totals),
    }


def write_module_dirs(root: Path, count: int) -> list[Path]:
    """``count`` module projects: ai4-metadata.yml + pyproject.toml each."""
    rng = random.Random(SEED + 2)
    dirs = []
    for i in range(count):
        path = root / f"module-{i:04d}"
        path.mkdir(parents=True)
        (path / "ai4-metadata.yml").write_text(yaml.safe_dump(module_metadata(rng, i)))
        (path / "pyproject.toml").write_text(
            f'[project]\nname = "imported-{i:04d}"\nversion = "0.{i % 10}.{i}"\n'
            f'[project.entry-points."modelport.models"]\n'
            f'imported-{i:04d} = "imported_{i:04d}.model:Model"\n'
        )
        dirs.append(path)
    return dirs


def measure_import(count: int) -> float:
    """Seconds to publish ``count`` module directories into a fresh catalog."""
    with tempfile.TemporaryDirectory(prefix="modelport-bench-import-") as tmp:
        dirs = write_module_dirs(Path(tmp) / "modules", count)
        service = build_catalog_service(Settings(data_dir=Path(tmp) / "data"))
        started = time.perf_counter()
        for path in dirs:
            service.publish_directory(path)
        elapsed = time.perf_counter() - started
        assert len(service.registry.names()) == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serve_cmd = sub.add_parser("serve")
    serve_cmd.add_argument("--data-dir", type=Path, required=True)
    serve_cmd.add_argument("--port", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modules", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--imports", type=int, default=1000)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.data_dir, args.port)
        return

    paths = queries(args.queries)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="modelport-bench-catalog-") as tmp:
        data_dir = Path(tmp)
        populated = populate(data_dir, args.modules)
        print(f"published {args.modules} modules in {populated:.1f} s", flush=True)
        for number in range(1, args.rounds + 1):
            result = measure_search(data_dir, paths)
            result["import_s"] = measure_import(args.imports)
            rounds.append(result)
            shown = ", ".join(f"{k}={v:.2f}" for k, v in result.items())
            print(f"round {number}: {shown}", flush=True)
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    report = {
        "modules": args.modules,
        "queries": args.queries,
        "imports": args.imports,
        "populate_s": populated,
        "rounds": rounds,
        "median": medians,
    }
    out = HERE / "results" / "catalog.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"median": medians}, indent=2))
    search_ok = "PASS" if medians["p95_ms"] < 20 else "FAIL"
    import_ok = "PASS" if medians["import_s"] < 10 else "FAIL"
    print(f"search p95 < 20 ms: {search_ok}; import of {args.imports} < 10 s: {import_ok}")


if __name__ == "__main__":
    main()
