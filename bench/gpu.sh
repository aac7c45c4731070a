#!/usr/bin/env bash
# The PyTorch pilot on a CUDA machine, in under 5 minutes: the training loop as a modelport job
# vs by hand (one round each, on the GPU), then batched predictions; one table at the end.
#
#   bench/gpu.sh            # from a modelport checkout with torch installed (scripts/torch)
#
# Results: bench/results/gpu-train.json, bench/results/gpu-predict.json. Record them in
# bench/README.md with the card's name (printed first).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

"$PY" - <<'PY'
import torch
if not torch.cuda.is_available():
    raise SystemExit("no CUDA device: this script measures the GPU (torch %s)" % torch.__version__)
print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

timeout 240 "$PY" bench/torch_train.py --gpus 1 --rounds 1 --epochs 8 --per-class 150 \
  --out bench/results/gpu-train.json >/dev/null
timeout 60 "$PY" bench/torch_predict.py --connections 32 --seconds 15 \
  --out bench/results/gpu-predict.json >/dev/null

"$PY" - <<'PY'
import json
train = json.load(open("bench/results/gpu-train.json"))
predict = json.load(open("bench/results/gpu-predict.json"))
rows = [
    ("device", train["device"]),
    ("training as a job (s)", train["job_median_s"]),
    ("training by hand (s)", train["plain_median_s"]),
    ("by hand / job (goal >= 0.95)", train["plain_over_job"]),
    ("validation accuracy", train["validation_accuracy"]),
    ("predict req/s (32 connections)", predict["req_s"]),
    ("predict p50 / p99 (ms)", f'{predict["p50_ms"]} / {predict["p99_ms"]}'),
    ("mean batch", predict["batch_mean"]),
    ("predict errors", predict["errors"]),
]
width = max(len(name) for name, _ in rows)
for name, value in rows:
    print(f"| {name:<{width}} | {value} |")
PY
