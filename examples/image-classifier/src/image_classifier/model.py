"""The served model: predict the top-k classes of an image; retrain the head on a zip of folders."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from image_classifier.dataset import data_field, read_class_folders, training_zip
from image_classifier.features import PRETRAINED, SIDE, Array, load_extractor, pixels
from image_classifier.head import SoftmaxHead
from image_classifier.training import fit_head
from modelport import Field, File, Model, TrainContext
from modelport.errors import InvalidInput, NotFound

#: the artifact a training writes, and that a version published from it is served with
HEAD_ARTIFACT = "head.npz"
#: what an ``image`` may be, as said to a caller who sent something else
IMAGE_FORMATS = "an image: PNG, JPEG, GIF, BMP, TIFF or WebP"
#: What the dashboard's file input offers, and the snippets name their example file by.
IMAGE_MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/webp",
)


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
        image: File = Field(
            description="The photo to classify",
            json_schema_extra={"x-modelport-media-types": list(IMAGE_MEDIA_TYPES)},
        ),
        top_k: int = Field(3, ge=1, le=20, description="How many classes to return"),
    ) -> list[Label]:
        """The ``top_k`` most likely classes of the image, most likely first."""
        probs = self.head.probabilities(self.extractor(read_image(image)))[0]
        order = probs.argsort()[::-1][:top_k]
        return [
            Label(label=self.head.classes[i], probability=round(float(probs[i]), 6)) for i in order
        ]

    def train(
        self,
        ctx: TrainContext,
        *,
        data: str = data_field(),
        epochs: int = Field(30, ge=1, le=1000, description="Passes over the training images"),
        learning_rate: float = Field(0.05, gt=0, le=10, description="Gradient step size"),
        validation_split: float = Field(0.2, ge=0, lt=1, description="Share held out to score"),
        seed: int = Field(0, description="Random seed (split and shuffling)"),
    ) -> dict[str, Any]:
        """Train a new head on labelled images; writes ``head.npz`` and ``summary.json``."""
        ctx.report(0.0, "reading images")
        with training_zip(ctx, data) as source:
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


def read_image(image: File, side: int = SIDE) -> Array:
    """The upload's ``side * side`` pixels; InvalidInput naming ``image`` when it is not an image
    PIL reads."""
    try:
        with image.open() as handle:
            return pixels(handle, side)
    except Image.DecompressionBombError:
        why = "has too many pixels to be read"
    except UnidentifiedImageError:
        why = "is not an image"
    # PIL's other ways of refusing a broken file (a truncated or corrupt image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        why = f"is a broken image ({exc})"
    raise InvalidInput({"image": [f"{image.filename!r} {why}. Expected {IMAGE_FORMATS}."]})
