"""Build ``pretrained.npz``: the extractor and a default head, fitted on scikit-learn's digits.

Run once by the module's developers (``python -m image_classifier.pretrain``); the result is
committed, so serving and retraining never fit or download anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from image_classifier.features import PRETRAINED, Extractor
from image_classifier.training import fit_head

COMPONENTS = 32
HIDDEN = 256
SEED = 20261129


def build(dest: Path = PRETRAINED) -> float:
    """Fit and write the bundle; return the default head's validation accuracy."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data / 16.0  # the same scale as features.pixels gives a drawn digit
    rng = np.random.default_rng(SEED)
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    scale = singular[:COMPONENTS] / np.sqrt(len(x) - 1)
    projection = rng.normal(size=(COMPONENTS, HIDDEN)) / np.sqrt(COMPONENTS)
    bias = rng.normal(scale=0.5, size=HIDDEN)
    partial = Extractor(
        mean, vt[:COMPONENTS], scale, projection, bias, np.zeros(1), np.ones(1)
    ).raw(x)
    extractor = Extractor(
        mean,
        vt[:COMPONENTS],
        scale,
        projection,
        bias,
        partial.mean(axis=0),
        partial.std(axis=0) + 1e-6,
    )
    classes = [f"digit-{d}" for d in data.target_names]
    result = fit_head(
        extractor(x), data.target.astype(np.int64), classes, epochs=40, learning_rate=0.05
    )
    arrays = {
        k: v.astype(np.float32) if v.dtype.kind == "f" else v
        for k, v in {**extractor.arrays(), **result.head.arrays()}.items()
    }
    with dest.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    return result.validation_accuracy or 0.0


if __name__ == "__main__":
    print(f"wrote {PRETRAINED}: validation accuracy {build():.3f}")
