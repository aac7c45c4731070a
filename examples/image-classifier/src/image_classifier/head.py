"""The trainable part: a softmax (multinomial logistic regression) head, in numpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def softmax(scores: Array) -> Array:
    """Row-wise softmax, numerically stable."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


@dataclass
class SoftmaxHead:
    """Class names, weights and biases of a linear layer followed by a softmax."""

    classes: list[str]
    weights: Array
    bias: Array

    @classmethod
    def zeros(cls, classes: list[str], features: int) -> SoftmaxHead:
        """An untrained head (uniform probabilities)."""
        return cls(classes, np.zeros((features, len(classes))), np.zeros(len(classes)))

    def probabilities(self, features: Array) -> Array:
        """Class probabilities, one row per image."""
        return softmax(np.atleast_2d(features) @ self.weights + self.bias)

    def loss(self, features: Array, labels: NDArray[np.int64]) -> float:
        """Mean cross-entropy."""
        probs = self.probabilities(features)[np.arange(len(labels)), labels]
        return float(-np.log(np.clip(probs, 1e-12, None)).mean())

    def accuracy(self, features: Array, labels: NDArray[np.int64]) -> float:
        """Share of images whose most likely class is right."""
        if len(labels) == 0:
            return float("nan")
        return float((self.probabilities(features).argmax(axis=1) == labels).mean())

    def fit_epoch(
        self,
        features: Array,
        labels: NDArray[np.int64],
        *,
        rng: np.random.Generator,
        learning_rate: float,
        batch_size: int = 32,
        l2: float = 1e-4,
    ) -> None:
        """One epoch of mini-batch gradient descent on the cross-entropy."""
        order = rng.permutation(len(labels))
        onehot = np.eye(len(self.classes))[labels]
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            error = self.probabilities(features[batch]) - onehot[batch]
            self.weights -= learning_rate * (
                features[batch].T @ error / len(batch) + l2 * self.weights
            )
            self.bias -= learning_rate * error.mean(axis=0)

    def arrays(self) -> dict[str, Any]:
        """The head as named arrays (for ``np.savez``)."""
        return {
            "head_classes": np.array(self.classes),
            "head_weights": self.weights,
            "head_bias": self.bias,
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> SoftmaxHead:
        """Rebuild from what :meth:`arrays` saved."""
        return cls(
            [str(c) for c in arrays["head_classes"]],
            np.asarray(arrays["head_weights"], dtype=np.float64),
            np.asarray(arrays["head_bias"], dtype=np.float64),
        )

    def save(self, path: Path) -> Path:
        """Write the head as an ``.npz`` file."""
        with path.open("wb") as handle:
            np.savez(handle, **self.arrays())
        return path

    @classmethod
    def load(cls, path: Path) -> SoftmaxHead:
        """Read a head written by :meth:`save` (or the pretrained bundle)."""
        with np.load(path) as arrays:
            return cls.from_arrays(arrays)
