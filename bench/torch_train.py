#!/usr/bin/env python3
"""The PyTorch pilot's training loop as a modelport job vs the same loop run by hand.

    .venv/bin/python bench/torch_train.py [--rounds 3] [--epochs 8] [--per-class 150]
        [--gpus 0] [--out bench/results/torch_train.json]

Both sides fine-tune ``image-classifier-torch`` on the same zip (``--per-class`` images of each
of the ten digits, drawn as the demo draws them), same seed, same settings, early stopping off:

- **job**: through the training facility as ``modelport up`` runs it (``build_job_service``:
  scheduler, local executor, a worker process that reports every epoch through its channel,
  saves a checkpoint per epoch and the model, its output captured into the job log), timed
  from the submission to the job's end;
- **plain**: a fresh ``python`` running :func:`image_classifier_torch.fit.fit` on the same
  data, printing each epoch, saving nothing, timed from its start to its end.

Rounds alternate (job, plain, job, ...); medians and the ratio plain/job (1.0: the platform
costs nothing; the goal of issue #17 is ≥ 0.95). ``--gpus 1``: the job asks for a GPU (the
executor hands it one through ``CUDA_VISIBLE_DEVICES``) and the plain run uses CUDA too.
Standard library plus modelport and the pilot (installed beside the lock: scripts/torch).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

PLAIN = """
import sys, time
import torch
from image_classifier_torch.data import read_images
from image_classifier_torch.fit import FitConfig, fit
from image_classifier_torch.net import PRETRAINED, Classifier

data, epochs = sys.argv[1], int(sys.argv[2])
with open(data, "rb") as source:
    images = read_images(source)
model = Classifier(images.classes)
model.backbone.load_state_dict(Classifier.load(PRETRAINED).backbone.state_dict())
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
config = FitConfig(epochs=epochs, patience=epochs)
result = fit(model, images, config, device=device,
             on_epoch=lambda e, n: print(f"epoch {e.epoch}/{n} loss {e.loss:.4f}", flush=True))
print("validation", result.best_validation_accuracy)
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def plain(data: Path, epochs: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", PLAIN, str(data), str(epochs)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def job(service: Any, data: Path, epochs: int, gpus: int) -> tuple[float, dict[str, Any]]:
    from modelport.contract import discovery
    from modelport.contract.base import RawArgs
    from modelport.jobs.domain import Resources

    model = discovery.load("image-classifier-torch")
    args = {"data": str(data), "epochs": epochs, "patience": epochs}
    started = time.perf_counter()
    submitted = service.submit(model, RawArgs(json=args), resources=Resources(cpu=1, gpu=gpus))
    while not (done := service.store.get(submitted.id)).status.finished:
        time.sleep(0.02)
    took = time.perf_counter() - started
    if done.status.value != "succeeded":
        raise SystemExit(f"the job failed: {done.error}")
    return took, dict(done.result or {})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--gpus", type=int, default=0)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "torch_train.json")
    args = ap.parse_args()

    import torch

    from image_classifier.dataset import make_demo_zip
    from modelport.jobs.setup import build_job_service
    from modelport.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmpdir:
        tmp = Path(tmpdir)
        data = make_demo_zip(tmp / "digits.zip", digits=range(10), per_class=args.per_class)
        settings = Settings(data_dir=tmp / "data", executor_cpus=2, executor_gpus=args.gpus)
        service = build_job_service(settings)
        service.start()
        jobs, plains, summary = [], [], {}
        try:
            for round_ in range(args.rounds):
                took, summary = job(service, data, args.epochs, args.gpus)
                jobs.append(took)
                plains.append(plain(data, args.epochs))
                log(f"round {round_ + 1}: job {jobs[-1]:.2f} s, plain {plains[-1]:.2f} s")
        finally:
            service.stop()
    device = torch.cuda.get_device_name(0) if args.gpus and torch.cuda.is_available() else "cpu"
    result = {
        "settings": vars(args) | {"out": str(args.out)},
        "device": device,
        "torch": torch.__version__,
        "images": summary.get("images"),
        "validation_accuracy": summary.get("validation_accuracy"),
        "job_s": [round(t, 3) for t in jobs],
        "plain_s": [round(t, 3) for t in plains],
        "job_median_s": round(statistics.median(jobs), 3),
        "plain_median_s": round(statistics.median(plains), 3),
        "plain_over_job": round(statistics.median(plains) / statistics.median(jobs), 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
