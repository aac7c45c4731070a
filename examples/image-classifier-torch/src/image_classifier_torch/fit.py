"""The fine-tuning loop: mini-batches with augmentation, a validation score per epoch, early
stopping, a checkpoint every epoch and resuming from one.

The same loop runs as a modelport job (``model.train``: reports, checkpoints and the log go to
the platform) and as a plain script (``bench/torch_train.py``): only the callbacks differ.
On CUDA it uses mixed precision (float16 autocast with a gradient scaler) and ``torch.compile``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from image_classifier_torch.data import Images, augment, split
from image_classifier_torch.net import Classifier

#: The backbone learns this much more slowly than the head (it is pretrained).
BACKBONE_RATE = 0.1
#: What a checkpoint must share with the run resuming from it (epochs and patience may change).
RESUMABLE_IF_SAME = ("batch_size", "learning_rate", "validation_split", "seed")


@dataclass(frozen=True)
class FitConfig:
    """How to train: what the job's arguments say."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-3
    patience: int = 4
    validation_split: float = 0.2
    seed: int = 0


@dataclass
class Epoch:
    """What one epoch measured."""

    epoch: int
    loss: float
    accuracy: float
    validation_accuracy: float | None


@dataclass
class FitResult:
    """The best model's scores, and what ran."""

    model: Classifier
    history: list[Epoch] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_accuracy: float | None = None
    epochs_run: int = 0  # in this run (a resumed one runs fewer)
    resumed_from: int = 0  # the epoch its checkpoint had finished
    stopped_early: bool = False
    train_images: int = 0
    validation_images: int = 0


OnEpoch = Callable[[Epoch, int], None]
SaveCheckpoint = Callable[[bytes], object]


def fit(
    model: Classifier,
    images: Images,
    config: FitConfig,
    *,
    device: torch.device,
    on_epoch: OnEpoch = lambda epoch, total: None,
    save_checkpoint: SaveCheckpoint = lambda data: None,
    resume: bytes | None = None,
    backbone_rate: float = BACKBONE_RATE,
) -> FitResult:
    """Fine-tune ``model`` on ``images``; the best epoch's weights (by validation accuracy, else
    the last) end up in the returned model. ``backbone_rate``: the backbone's learning rate as
    a share of the head's."""
    torch.manual_seed(config.seed)
    train, held = split(len(images.y), config.validation_split, config.seed)
    model.to(device)
    optimizer = torch.optim.AdamW(
        [
            {"params": model.backbone.parameters(), "lr": config.learning_rate * backbone_rate},
            {"params": model.head.parameters(), "lr": config.learning_rate},
        ],
        weight_decay=1e-4,
    )
    cuda = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    step: Callable[..., torch.Tensor] = torch.compile(model) if cuda else model
    generator = torch.Generator().manual_seed(config.seed)
    state = _State()
    if resume is not None:
        state.restore(resume, model, optimizer, generator, images.classes, config)
    result = FitResult(model, train_images=len(train), validation_images=len(held))
    result.resumed_from = state.epoch
    loss_of = nn.CrossEntropyLoss()
    for epoch in range(state.epoch + 1, config.epochs + 1):
        model.train()
        order = train[torch.randperm(len(train), generator=generator)]
        total, correct, seen = 0.0, 0, 0
        for start in range(0, len(order), config.batch_size):
            chosen = order[start : start + config.batch_size]
            x = augment(images.x[chosen], generator).to(device)
            y = images.y[chosen].to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                scores = step(x)
                loss = loss_of(scores, y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.item() * len(chosen)
            correct += int((scores.argmax(1) == y).sum())
            seen += len(chosen)
        score = accuracy(model, images.x[held], images.y[held], device) if len(held) else None
        measured = Epoch(epoch, total / seen, correct / seen, score)
        state.record(measured, model)
        result.history.append(measured)
        result.epochs_run += 1
        on_epoch(measured, config.epochs)
        save_checkpoint(state.to_bytes(model, optimizer, generator, images.classes, config))
        if state.stale >= config.patience and score is not None and epoch < config.epochs:
            result.stopped_early = True
            break
    if state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    result.best_epoch, result.best_validation_accuracy = state.best_epoch, state.best
    return result


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> float:
    """The share of ``x`` the model classifies as ``y`` (in evaluation mode)."""
    model.eval()
    right = 0
    for start in range(0, len(x), 256):
        scores = model(x[start : start + 256].to(device))
        right += int((scores.argmax(1).cpu() == y[start : start + 256]).sum())
    return right / max(1, len(x))


class _State:
    """What a checkpoint keeps beyond the weights: the epoch, the best so far, patience."""

    def __init__(self) -> None:
        self.epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stale = 0

    def record(self, epoch: Epoch, model: nn.Module) -> None:
        self.epoch = epoch.epoch
        score = epoch.validation_accuracy
        if score is None or self.best is None or score > self.best:
            self.best, self.best_epoch, self.stale = score, epoch.epoch, 0
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.stale += 1

    def to_bytes(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        classes: list[str],
        config: FitConfig,
    ) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "epoch": self.epoch,
                "best": self.best,
                "best_epoch": self.best_epoch,
                "best_weights": self.best_weights,
                "stale": self.stale,
                "weights": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(),
                "classes": classes,
                "config": asdict(config),
            },
            buffer,
        )
        return buffer.getvalue()

    def restore(  # noqa: PLR0917 - the loop's parts, in the order to_bytes takes them
        self,
        data: bytes,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        classes: list[str],
        config: FitConfig,
    ) -> None:
        """Continue from a checkpoint of the same data and settings (else start over)."""
        saved: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        ours, theirs = asdict(config), saved["config"]
        if saved["classes"] != classes or any(ours[k] != theirs.get(k) for k in RESUMABLE_IF_SAME):
            print("the checkpoint is of other data or settings: starting over")
            return
        model.load_state_dict(saved["weights"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        self.epoch, self.best, self.best_epoch = saved["epoch"], saved["best"], saved["best_epoch"]
        self.best_weights, self.stale = saved["best_weights"], saved["stale"]
        print(f"resuming after epoch {self.epoch} (best validation accuracy so far: {self.best})")
