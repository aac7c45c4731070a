"""The served model: find the objects of an image, each with its box, score and crop."""

from __future__ import annotations

import base64
import io
from typing import Annotated

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from modelport import Field, File, Model
from modelport.errors import InvalidInput
from tiny_detector.detect import Array, crop_image, detect, grayscale

#: what an ``image`` may be, as said to a caller who sent something else
IMAGE_FORMATS = "an image: PNG, JPEG, GIF, BMP, TIFF or WebP"
#: what the dashboard's file input offers, and the snippets name their example file by
IMAGE_MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/webp",
)
#: the most pixels an image may have (a 4096 x 4096 image): beyond, it is refused, not read
MAX_PIXELS = 4096 * 4096

#: a crop: a PNG image, base64-encoded (declared so in the JSON schema, for clients and docs)
PngBase64 = Annotated[
    str,
    Field(
        description="The object's crop: a square grayscale PNG, dark ink on white, base64",
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/png"},
    ),
]


class DetectedObject(BaseModel):
    """One object: where it is, how sure, how large, and its crop."""

    box: list[int] = Field(
        description="[x0, y0, x1, y1] in pixels of the image; x1 and y1 exclusive",
        min_length=4,
        max_length=4,
    )
    score: float = Field(
        description="Mean ink of the object's pixels, 0..1 (1: the image's full contrast)"
    )
    area: int = Field(description="The object's ink pixels")
    crop: PngBase64


class Detections(BaseModel):
    """The objects found, left to right (then top to bottom)."""

    count: int = Field(description="How many objects are returned")
    objects: list[DetectedObject]


class TinyDetector(Model):
    """Find the objects of an image (handwritten digits on paper, say) with classical vision.

    The image is made grayscale, its background told apart (the median pixel: dark ink on light
    paper, or light strokes on a dark ground), its ink thresholded (Otsu) and its connected
    components labelled, all in numpy. Each object comes back with its box, a score, its area
    and a crop: a square PNG, dark ink on white, made to look like the 8x8 digits the
    ``image-classifier`` pilot was trained on, so that a pipeline can classify every crop.
    """

    name = "tiny-detector"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"source_code": "https://github.com/modelport/modelport/tree/main/examples"}

    def predict(
        self,
        image: File = Field(
            description="The scene to search: an image with objects on a plain background",
            json_schema_extra={"x-modelport-media-types": list(IMAGE_MEDIA_TYPES)},
        ),
        min_area: int = Field(
            20, ge=1, description="Smallest object kept, in ink pixels (smaller specks are noise)"
        ),
        max_objects: int = Field(20, ge=1, le=100, description="Most objects returned"),
    ) -> Detections:
        """The objects of the image, left to right (then top to bottom), with their crops."""
        found = detect(read_image(image), min_area=min_area, max_objects=max_objects)
        objects = [
            DetectedObject(
                box=list(obj.box),
                score=round(obj.score, 6),
                area=obj.area,
                crop=png_base64(crop_image(found, obj)),
            )
            for obj in found.objects
        ]
        return Detections(count=len(objects), objects=objects)


def png_base64(image: Image.Image) -> str:
    """``image`` as a PNG, base64-encoded."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def read_image(image: File) -> Array:
    """The upload as grayscale values in [0, 1]; InvalidInput naming ``image`` when it is not an
    image PIL reads, or has more than MAX_PIXELS pixels."""
    try:
        with image.open() as handle, Image.open(handle) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                why = f"has too many pixels ({width} x {height}; at most {MAX_PIXELS:,} are read)"
            else:
                opened.load()
                return grayscale(opened)
    except Image.DecompressionBombError:
        why = "has too many pixels to be read"
    except UnidentifiedImageError:
        why = "is not an image"
    # PIL's other ways of refusing a broken file (a truncated or corrupt image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        why = f"is a broken image ({exc})"
    raise InvalidInput({"image": [f"{image.filename!r} {why}. Expected {IMAGE_FORMATS}."]})
