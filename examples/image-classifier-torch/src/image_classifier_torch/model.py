"""The served model: a CNN's top-k classes of an image (requests batched); fine-tune it on a zip
of class folders, resumable from its last checkpoint."""

from __future__ import annotations

from typing import Any

import torch

from image_classifier.dataset import data_field, training_zip
from image_classifier.model import IMAGE_MEDIA_TYPES, Label, read_image
from image_classifier_torch.data import read_images
from image_classifier_torch.fit import Epoch, FitConfig, fit
from image_classifier_torch.net import PRETRAINED, SIDE, Classifier
from modelport import Field, File, Model, TrainContext, batch
from modelport.errors import NotFound

#: the artifact a training writes, and that a version published from it is served with
MODEL_ARTIFACT = "model.pt"
#: the checkpoint a training writes every epoch and a retried one resumes from
CHECKPOINT = "last.pt"


def device() -> torch.device:
    """The first GPU the process was given (``CUDA_VISIBLE_DEVICES``), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ImageClassifierTorch(Model):
    """Classify an image with a small CNN, pretrained on handwritten digits, that you fine-tune.

    Out of the box it tells the ten digits apart (``digit-0`` ... ``digit-9``). Fine-tune it on
    your own labelled images: a zip with one folder per class. The whole network is trained
    (the pretrained backbone at a tenth of the head's learning rate), with augmentation, a
    validation split and early stopping; every epoch is checkpointed, and a retried job goes on
    from its last checkpoint. On a GPU it trains in mixed precision with ``torch.compile``.
    """

    name = "image-classifier-torch"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"source_code": "https://github.com/modelport/modelport/tree/main/examples"}

    def warm(self) -> None:
        """Load the network: a published training's, else the pretrained one."""
        try:
            weights = self.artifact(MODEL_ARTIFACT)  # a version published from a training job
        except NotFound:
            weights = PRETRAINED
        self.device = device()
        self.net = Classifier.load(weights).to(self.device)

    @batch(max_size=32, max_wait_ms=5)
    def predict(
        self,
        image: list[File] = Field(
            description="The photo to classify",
            json_schema_extra={"x-modelport-media-types": list(IMAGE_MEDIA_TYPES)},
        ),
        # a request's own top_k (an int, its default 3): @batch gathers them into a list
        top_k: list[int] = Field(3, ge=1, le=20, description="How many classes to return"),  # type: ignore[arg-type]
    ) -> list[list[Label]]:
        """The ``top_k`` most likely classes of each image, most likely first."""
        rows = [torch.tensor(read_image(one, SIDE), dtype=torch.float32) for one in image]
        x = torch.stack(rows).reshape(-1, 1, SIDE, SIDE).to(self.device)
        with torch.inference_mode():
            probabilities = torch.softmax(self.net(x).float(), dim=1).cpu()
        answers = []
        classes = self.net.classes
        for row, k in zip(probabilities, top_k, strict=True):
            best = row.argsort(descending=True)[:k].tolist()
            answers.append(
                [Label(label=classes[i], probability=round(float(row[i]), 6)) for i in best]
            )
        return answers

    def train(
        self,
        ctx: TrainContext,
        *,
        data: str = data_field(),
        epochs: int = Field(15, ge=1, le=1000, description="Passes over the training images"),
        batch_size: int = Field(32, ge=8, le=1024, description="Images per optimiser step"),
        learning_rate: float = Field(3e-3, gt=0, le=1, description="The head's step size"),
        patience: int = Field(
            4, ge=1, le=1000, description="Stop after this many epochs without a better score"
        ),
        validation_split: float = Field(0.2, ge=0, lt=1, description="Share held out to score"),
        seed: int = Field(0, description="Random seed (split, shuffling, augmentation)"),
    ) -> dict[str, Any]:
        """Fine-tune on labelled images; writes ``model.pt``, ``summary.json`` and a checkpoint
        per epoch (``checkpoints/last.pt``)."""
        ctx.report(0.0, "reading images")
        with training_zip(ctx, data) as source:
            images = read_images(source)
        print(f"{len(images.y)} images in {len(images.classes)} classes: {images.classes}")
        on = device()
        named = f" ({torch.cuda.get_device_name(on)})" if on.type == "cuda" else ""
        print(f"training on {on}{named}")
        model = Classifier(images.classes)
        pretrained = Classifier.load(PRETRAINED)
        model.backbone.load_state_dict(pretrained.backbone.state_dict())

        def report(epoch: Epoch, total: int) -> None:
            metrics = {"loss": epoch.loss, "accuracy": epoch.accuracy}
            if epoch.validation_accuracy is not None:
                metrics["validation_accuracy"] = epoch.validation_accuracy
            said = f"epoch {epoch.epoch}/{total}"
            ctx.report(epoch.epoch / total, said, step=epoch.epoch, **metrics)
            print(f"{said}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

        config = FitConfig(epochs, batch_size, learning_rate, patience, validation_split, seed)
        result = fit(
            model,
            images,
            config,
            device=on,
            on_epoch=report,
            save_checkpoint=lambda state: ctx.checkpoint(CHECKPOINT, state),
            resume=ctx.load_checkpoint(CHECKPOINT),
        )
        result.model.cpu()
        summary = {
            "classes": images.classes,
            "images": len(images.y),
            "train_images": result.train_images,
            "validation_images": result.validation_images,
            "best_epoch": result.best_epoch,
            "validation_accuracy": result.best_validation_accuracy,
            "epochs_run": result.epochs_run,
            "resumed_after_epoch": result.resumed_from,
            "stopped_early": result.stopped_early,
            "device": str(on),
        }
        ctx.save_artifact(MODEL_ARTIFACT, result.model.to_bytes())
        ctx.save_artifact("summary.json", summary)
        self.net, self.device = result.model, torch.device("cpu")
        return summary
