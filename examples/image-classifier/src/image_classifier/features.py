"""The frozen, pretrained feature extractor: image → 8x8 grayscale → whitened PCA → random ReLU.

It was fitted once on scikit-learn's handwritten digits (``python -m image_classifier.pretrain``)
and ships as ``pretrained.npz`` in the package, so nothing is downloaded. Only the softmax head
on top of it is trained on a user's images: transfer learning on a small scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

#: The extractor's input: images become SIDE x SIDE grayscale, ink bright on a dark ground.
SIDE = 8
PRETRAINED = Path(__file__).with_name("pretrained.npz")

Array = NDArray[np.float64]


def pixels(source: str | Path | IO[bytes], side: int = SIDE) -> Array:
    """An image file as ``side * side`` values in [0, 1], dark ink on light paper becoming
    bright."""
    with Image.open(source) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    image = ImageOps.pad(image, (max(image.size),) * 2, color=255)  # square, paper-coloured
    small = image.resize((side, side), Image.Resampling.BOX)
    return 1.0 - np.asarray(small, dtype=np.float64).reshape(-1) / 255.0


@dataclass(frozen=True)
class Extractor:
    """Fixed weights: PCA (mean, components, scale), random projection, standardisation."""

    mean: Array
    components: Array
    scale: Array
    projection: Array
    bias: Array
    feature_mean: Array
    feature_std: Array

    def raw(self, x: Array) -> Array:
        """Unstandardised features of rows of pixels."""
        z = (np.atleast_2d(x) - self.mean) @ self.components.T / self.scale
        hidden = np.maximum(z @ self.projection + self.bias, 0.0)
        return np.hstack([z, hidden])

    def __call__(self, x: Array) -> Array:
        """Standardised features of rows of pixels (what the head sees)."""
        return (self.raw(x) - self.feature_mean) / self.feature_std

    @property
    def size(self) -> int:
        """Number of features per image."""
        return int(self.feature_mean.shape[0])

    def arrays(self) -> dict[str, Any]:
        """The weights as named arrays (for ``np.savez``)."""
        return {f"extractor_{k}": v for k, v in vars(self).items()}

    @classmethod
    def from_arrays(cls, arrays: Any) -> Extractor:
        """Rebuild from what :meth:`arrays` saved."""
        names = cls.__dataclass_fields__
        return cls(**{k: np.asarray(arrays[f"extractor_{k}"], dtype=np.float64) for k in names})


def load_extractor(path: Path = PRETRAINED) -> Extractor:
    """The pretrained extractor shipped with the package."""
    with np.load(path) as arrays:
        return Extractor.from_arrays(arrays)
