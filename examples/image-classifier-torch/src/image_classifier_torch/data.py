"""Training images as tensors: a zip of class folders (or the demo digits), a validation
split, and the augmentation a training applies to each batch.

The zip is read by the numpy pilot's reader (``image_classifier.dataset``: the same limits
on what a user's zip may unpack to), at this network's SIDE x SIDE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import torch

from image_classifier.dataset import read_class_folders
from image_classifier_torch.net import SIDE

#: How far (pixels) an augmented image may be shifted each way.
SHIFT = 3


@dataclass(frozen=True)
class Images:
    """Images (N x 1 x SIDE x SIDE, in [0, 1]), their class indices, the class names."""

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]


def read_images(source: IO[bytes]) -> Images:
    """A zip of class folders as tensors; ValueError saying what is wrong with it."""
    found = read_class_folders(source, side=SIDE)
    x = torch.tensor(found.pixels, dtype=torch.float32).reshape(-1, 1, SIDE, SIDE)
    return Images(x, torch.tensor(found.labels, dtype=torch.long), found.classes)


def split(count: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a training and a validation part (``fraction`` of ``count``, at least one
    image each when there is a validation part), the same for the same seed."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    held = min(count - 1, max(1, round(count * fraction))) if fraction > 0 else 0
    return order[held:], order[:held]


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to SHIFT pixels each way and its contrast varied by ±20 %."""
    count = batch.shape[0]
    padded = torch.nn.functional.pad(batch, (SHIFT, SHIFT, SHIFT, SHIFT))
    offsets = torch.randint(0, 2 * SHIFT + 1, (count, 2), generator=generator)
    shifted = torch.stack(
        [
            padded[i, :, int(dy) : int(dy) + SIDE, int(dx) : int(dx) + SIDE]
            for i, (dy, dx) in enumerate(offsets.tolist())
        ]
    )
    contrast = 0.8 + 0.4 * torch.rand((count, 1, 1, 1), generator=generator)
    return (shifted * contrast).clamp(0.0, 1.0)
