"""The served model: predict the top-k classes of an image; retrain the head on a zip of folders."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from image_classifier.dataset import DEMO_DATA, make_demo_zip, read_class_folders
from image_classifier.features import PRETRAINED, load_extractor, pixels
from image_classifier.head import SoftmaxHead
from image_classifier.training import fit_head
from modelport import Field, File, Model, TrainContext
from modelport.errors import NotFound

#: the artifact a training writes, and that a version published from it is served with
HEAD_ARTIFACT = "head.npz"


class Label(BaseModel):
    """One candidate class and its probability."""

    label: str
    probability: float


class ImageClassifier(Model):
    """Classify an image with a pretrained feature extractor and a retrainable softmax head.

    Out of the box it tells handwritten digits apart (``digit-0`` ... ``digit-9``). Retrain it on
    your own labelled images: a zip with one folder per class. Only the head is trained, on the
    extractor's frozen features, so a few dozen images per class and a few seconds of CPU do.
    """

    name = "image-classifier"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"source_code": "https://github.com/modelport/modelport/tree/main/examples"}

    def warm(self) -> None:
        """Load the extractor and the head: a published training's, else the pretrained one."""
        self.extractor = load_extractor()
        try:
            head_file = self.artifact(HEAD_ARTIFACT)  # a version published from a training job
        except NotFound:
            head_file = PRETRAINED
        self.head = SoftmaxHead.load(head_file)

    def predict(
        self,
        image: File,
        top_k: int = Field(3, ge=1, le=20, description="How many classes to return"),
    ) -> list[Label]:
        """The ``top_k`` most likely classes of the image, most likely first."""
        with image.open() as handle:
            probs = self.head.probabilities(self.extractor(pixels(handle)))[0]
        order = probs.argsort()[::-1][:top_k]
        return [
            Label(label=self.head.classes[i], probability=round(float(probs[i]), 6)) for i in order
        ]

    def train(
        self,
        ctx: TrainContext,
        *,
        data: str = Field(
            description=(
                'A zip of class folders: a path or URL (file, s3, http); or "demo" for a '
                "small demo set of handwritten digits (0, 1, 7) generated on the fly, offline"
            ),
            examples=[DEMO_DATA],
        ),
        epochs: int = Field(30, ge=1, le=1000, description="Passes over the training images"),
        learning_rate: float = Field(0.05, gt=0, le=10, description="Gradient step size"),
        validation_split: float = Field(0.2, ge=0, lt=1, description="Share held out to score"),
        seed: int = Field(0, description="Random seed (split and shuffling)"),
    ) -> dict[str, Any]:
        """Train a new head on labelled images; writes ``head.npz`` and ``summary.json``."""
        ctx.report(0.0, "reading images")
        with tempfile.TemporaryDirectory() as workdir:
            if data == DEMO_DATA:
                data = str(make_demo_zip(Path(workdir) / "digits.zip"))
                print("demo data: digits 0, 1 and 7 drawn from scikit-learn's digits")
            with ctx.open(data) as source:
                images = read_class_folders(source)
        print(f"{len(images.labels)} images in {len(images.classes)} classes: {images.classes}")
        features = load_extractor()(images.pixels)  # frozen: train() runs without warm()

        def report(epoch: int, total: int, loss: float, accuracy: float) -> None:
            ctx.report(
                epoch / total, f"epoch {epoch}/{total}", step=epoch, loss=loss, accuracy=accuracy
            )
            print(f"epoch {epoch}/{total}: loss {loss:.4f} accuracy {accuracy:.3f}")

        fit = fit_head(
            features,
            images.labels,
            images.classes,
            epochs=epochs,
            learning_rate=learning_rate,
            validation_split=validation_split,
            seed=seed,
            on_epoch=report,
        )
        summary = {
            "classes": images.classes,
            "images": len(images.labels),
            "train_images": fit.train_images,
            "validation_images": fit.validation_images,
            "train_accuracy": round(fit.train_accuracy, 6),
            "validation_accuracy": (
                None if fit.validation_accuracy is None else round(fit.validation_accuracy, 6)
            ),
            "final_loss": round(fit.loss, 6),
        }
        with tempfile.TemporaryDirectory() as workdir:
            ctx.save_artifact(HEAD_ARTIFACT, fit.head.save(Path(workdir) / HEAD_ARTIFACT))
        ctx.save_artifact("summary.json", summary)
        self.head = fit.head
        return summary
