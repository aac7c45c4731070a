"""Pretrain the backbone on scikit-learn's handwritten digits and write ``pretrained.pt``.

    python -m image_classifier_torch.pretrain [--epochs 12] [--out PATH]

Run once, offline (scikit-learn ships the digits); the file (~100 KB) is part of the package.
The digits are drawn as the demo zip draws them (``image_classifier.dataset.digit_image``, 4x
larger), then read as a user's image is (at SIDE x SIDE): pretraining sees what serving sees.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch

from image_classifier.dataset import digit_image
from image_classifier.features import pixels
from image_classifier_torch.data import Images
from image_classifier_torch.fit import FitConfig, fit
from image_classifier_torch.net import PRETRAINED, SIDE, Classifier


def digits() -> Images:
    """All of scikit-learn's digits (1,797), as the network reads images."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rows = []
    for values in data.data:
        buffer = io.BytesIO()
        digit_image(values).save(buffer, format="PNG")
        buffer.seek(0)
        rows.append(pixels(buffer, SIDE))
    x = torch.tensor(np.vstack(rows), dtype=torch.float32).reshape(-1, 1, SIDE, SIDE)
    classes = [f"digit-{d}" for d in range(10)]
    return Images(x, torch.tensor(data.target, dtype=torch.long), classes)


def main(argv: list[str] | None = None) -> None:
    """Pretrain and save; prints each epoch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=PRETRAINED)
    args = parser.parse_args(argv)
    images = digits()
    model = Classifier(images.classes)
    config = FitConfig(epochs=args.epochs, learning_rate=3e-3, patience=args.epochs)
    # from scratch: the backbone learns at the head's rate
    result = fit(
        model,
        images,
        config,
        device=torch.device("cpu"),
        on_epoch=lambda e, total: print(
            f"epoch {e.epoch}/{total} loss {e.loss:.4f} validation {e.validation_accuracy}"
        ),
        backbone_rate=1.0,
    )
    result.model.cpu()
    args.out.write_bytes(result.model.to_bytes())
    print(f"{args.out}: validation accuracy {result.best_validation_accuracy}")


if __name__ == "__main__":
    main()
