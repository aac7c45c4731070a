"""The network: a small convolutional backbone (pretrained, shipped) and a linear head.

Images are SIDE x SIDE grayscale, ink bright on a dark ground, values in [0, 1]. The backbone
turns one into FEATURES numbers; the head into one score per class. Fine-tuning trains both,
the backbone more gently (its learning rate is a tenth of the head's).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

SIDE = 32
FEATURES = 64
PRETRAINED = Path(__file__).with_name("pretrained.pt")


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class Backbone(nn.Sequential):
    """Three convolution blocks, then a global average: an image → FEATURES numbers."""

    def __init__(self) -> None:
        super().__init__(
            _block(1, 16),
            nn.MaxPool2d(2),  # 16 x 16
            _block(16, 32),
            nn.MaxPool2d(2),  # 8 x 8
            _block(32, FEATURES),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )


class Classifier(nn.Module):
    """The backbone and a head of ``classes`` outputs (dropout before it while training)."""

    def __init__(self, classes: list[str]) -> None:
        super().__init__()
        self.classes = list(classes)
        self.backbone = Backbone()
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURES, len(classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Scores (logits), one row per image."""
        return self.head(self.dropout(self.backbone(images)))  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        """What a file of this model holds: its classes and weights."""
        return {"classes": self.classes, "weights": self.state_dict()}

    def to_bytes(self) -> bytes:
        """The model as a file's bytes (``torch.save``)."""
        buffer = io.BytesIO()
        torch.save(self.state(), buffer)
        return buffer.getvalue()

    @classmethod
    def load(cls, source: Path | bytes) -> Classifier:
        """A model saved by :meth:`to_bytes` (weights only: nothing in the file is run)."""
        data = io.BytesIO(source) if isinstance(source, bytes) else source
        state = torch.load(data, map_location="cpu", weights_only=True)
        model = cls(list(state["classes"]))
        model.load_state_dict(state["weights"])
        return model.eval()
