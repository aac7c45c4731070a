"""Training the softmax head on frozen features, one report per epoch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from image_classifier.head import SoftmaxHead

Array = NDArray[np.float64]
#: called after each epoch with (epoch, epochs, loss, accuracy)
EpochHook = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class FitResult:
    """What a training achieved."""

    head: SoftmaxHead
    train_accuracy: float
    validation_accuracy: float | None
    loss: float
    train_images: int
    validation_images: int


def split(
    labels: NDArray[np.int64], validation_split: float, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices for training and validation, stratified: every class keeps a training image."""
    train: list[int] = []
    valid: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = min(round(len(members) * validation_split), len(members) - 1)
        valid.extend(members[:held])
        train.extend(members[held:])
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(valid), dtype=np.int64)


def fit_head(
    features: Array,
    labels: NDArray[np.int64],
    classes: list[str],
    *,
    epochs: int,
    learning_rate: float,
    validation_split: float = 0.2,
    seed: int = 0,
    on_epoch: EpochHook | None = None,
) -> FitResult:
    """Fit a new head; ``on_epoch`` sees the training loss and the validation accuracy."""
    rng = np.random.default_rng(seed)
    train, valid = split(labels, validation_split, rng)
    head = SoftmaxHead.zeros(classes, features.shape[1])
    loss = accuracy = float("nan")
    for epoch in range(1, epochs + 1):
        head.fit_epoch(features[train], labels[train], rng=rng, learning_rate=learning_rate)
        loss = head.loss(features[train], labels[train])
        held_out = valid if len(valid) else train
        accuracy = head.accuracy(features[held_out], labels[held_out])
        if on_epoch is not None:
            on_epoch(epoch, epochs, loss, accuracy)
    return FitResult(
        head=head,
        train_accuracy=head.accuracy(features[train], labels[train]),
        validation_accuracy=accuracy if len(valid) else None,
        loss=loss,
        train_images=len(train),
        validation_images=len(valid),
    )
