"""Finding the objects of an image with numpy alone: polarity, threshold, connected components.

1. The image becomes grayscale and then an *ink* map in [0, 1]: how far each pixel is from the
   background level (the median pixel, so the background is whatever most of the image is: dark
   ink on light paper, or light strokes on a dark ground alike).
2. Otsu's threshold splits ink from background (``MIN_CONTRAST`` keeps a blank image blank);
   fainter ink (down to ``WEAK`` times the threshold) belongs to an object when it touches one's
   strong ink, so that a box holds the object's faint edges too (hysteresis).
3. Connected components of the ink pixels, labelled on runs of pixels (one row's run of ink is
   one node; runs that touch, or come within ``link`` pixels, are joined by a vectorised
   union-find), so that the cost grows with the ink's outline, not with the image's pixels.
   ``link`` joins the strokes of one object that a faint pixel cut apart.
4. One box per component, components smaller than ``min_area`` ink pixels dropped, ordered
   left to right (then top to bottom).

Each object's crop is made to look like what a digits classifier was trained on: dark ink on
white paper whatever the scene's polarity (ink scaled by the image's full contrast), other
objects' ink blanked out, padded to a square on whole cells of the classifier's 8x8 grid
(:func:`crop_image`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

Array = NDArray[np.float64]
Ints = NDArray[np.int64]

#: the least ink (0..1, from the background level to the image's extreme) an object needs: an
#: image whose pixels are all this close to its background has no objects
MIN_CONTRAST = 0.15
#: faint ink (at least this share of the threshold) joins an object that has strong ink: the
#: box and crop then hold the object's faint edges too (hysteresis thresholding)
WEAK = 0.1
#: ink pixels this far apart (Chebyshev distance, pixels) still belong to one object
LINK = 2
#: the margin around an object in its square crop, as a share of the object's longer side.
#: None by default: scikit-learn's digits fill their 8x8 frame from top to bottom row, and the
#: classifier pilot reads crops best that do too (its 359 held-out digits, in scenes: 90.5 %
#: right with no margin, 80 % with 5 %, 72 % with 10 %; 96.7 % from the digits themselves)
MARGIN = 0.0
#: the crop's side is a whole number of this many cells (the digits classifier's 8x8 pixels)
CELLS = 8


@dataclass(frozen=True)
class Found:
    """One detected object: its box (x1, y1 exclusive), ink pixels, mean ink, component label."""

    box: tuple[int, int, int, int]
    area: int
    score: float
    label: int


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` finds: the objects, and the ink map and labels they were cut from."""

    objects: list[Found]
    ink: Array
    labels: NDArray[np.int32]
    light_background: bool


def grayscale(image: Image.Image) -> Array:
    """The image as grayscale values in [0, 1] (transparency composed onto white)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def ink_map(gray: Array) -> tuple[Array, bool]:
    """How much ink each pixel holds (0 = background, 1 = the image's most extreme pixel), and
    whether the background is light (dark ink) rather than dark (light strokes)."""
    background = float(np.median(gray))
    light = background >= 0.5
    ink = background - gray if light else gray - background
    ink = np.clip(ink, 0.0, None)
    span = float(ink.max())
    # a (nearly) uniform image: keep its ink at its true, small contrast, so nothing is found
    return (ink / span if span > MIN_CONTRAST else ink), light


def otsu_threshold(values: Array, bins: int = 256) -> float:
    """The threshold between the two classes of ``values`` (in [0, 1]) that Otsu's method picks:
    the one maximising the between-class variance."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    weights = counts.astype(np.float64) / max(values.size, 1)
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(weights)
    mean_below = np.cumsum(weights * centres)
    total_mean = mean_below[-1]
    above = 1.0 - below
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * below - mean_below) ** 2 / (below * above)
    between = np.nan_to_num(between[:-1], nan=0.0, posinf=0.0)
    return float(edges[int(np.argmax(between)) + 1])


def _runs(mask: NDArray[np.bool_]) -> tuple[Ints, Ints, Ints]:
    """Rows, starts and (exclusive) ends of the runs of True in each row, row by row."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return rows.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64)


def _touching_runs(
    rows: Ints, starts: Ints, ends: Ints, width: int, link: int
) -> tuple[Ints, Ints]:
    """Pairs of runs whose pixels come within ``link`` pixels (Chebyshev) of each other."""
    firsts: list[Ints] = []
    seconds: list[Ints] = []
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = np.arange(len(rows))
    # same row: the next run, when the gap between them is at most link - 1 pixels
    same = (rows[1:] == rows[:-1]) & (starts[1:] - ends[:-1] < link)
    firsts.append(index[:-1][same])
    seconds.append(index[1:][same])
    stride = width + 2 * link + 2  # one row's span of keys, with room for the reach either side
    start_keys = rows * stride + starts
    end_keys = rows * stride + ends
    for offset in range(1, link + 1):
        target = (rows + offset) * stride
        # runs of row r + offset with end > start - link and start < end + link
        low = np.searchsorted(end_keys, target + starts - link, side="right")
        high = np.searchsorted(start_keys, target + ends + link - 1, side="right")
        counts = np.maximum(high - low, 0)
        if not counts.any():
            continue
        first = np.repeat(index, counts)
        # low[i], low[i] + 1, ..., high[i] - 1 for each run i
        starts_of = np.repeat(low - np.cumsum(counts) + counts, counts)
        second = starts_of + np.arange(int(counts.sum()))
        firsts.append(first)
        seconds.append(second)
    return np.concatenate(firsts), np.concatenate(seconds)


def _components(count: int, first: Ints, second: Ints) -> Ints:
    """The component of each of ``count`` nodes joined by the edges (first, second): the
    smallest node of each component (hooking roots onto smaller roots, then path halving)."""
    parent = np.arange(count)
    while True:
        a, b = parent[first], parent[second]
        differ = a != b
        if not differ.any():
            return parent
        low, high = np.minimum(a, b)[differ], np.maximum(a, b)[differ]
        np.minimum.at(parent, high, low)
        while True:  # compress: every node points at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def label(mask: NDArray[np.bool_], link: int = LINK) -> tuple[NDArray[np.int32], int]:
    """Connected components of ``mask`` (8-connected, or joined within ``link`` pixels): a label
    image (0 = background, 1... = components in order of their first pixel) and their count."""
    rows, starts, ends = _runs(mask)
    first, second = _touching_runs(rows, starts, ends, mask.shape[1], max(link, 1))
    roots = _components(len(rows), first, second)
    _, component = np.unique(roots, return_inverse=True)
    labels = np.zeros(mask.shape, dtype=np.int32)
    lengths = ends - starts
    run_labels = np.repeat(component + 1, lengths).astype(np.int32)
    run_rows = np.repeat(rows, lengths)
    run_cols = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
        int(lengths.sum())
    )
    labels[run_rows, run_cols] = run_labels
    return labels, int(component.max() + 1) if len(component) else 0


def detect(
    gray: Array, min_area: int = 1, max_objects: int | None = None, link: int = LINK
) -> Detection:
    """The objects of a grayscale image (values in [0, 1]): see the module's docstring."""
    ink, light = ink_map(gray)
    threshold = max(otsu_threshold(ink), MIN_CONTRAST)
    labels, count = label(ink >= threshold * WEAK, link)
    strong = np.zeros(count + 1, dtype=bool)
    strong[labels[ink >= threshold]] = True
    labels[~strong[labels]] = 0  # faint ink alone is no object
    objects: list[Found] = []
    if count:
        flat = labels.ravel()
        areas = np.bincount(flat, minlength=count + 1)
        sums = np.bincount(flat, weights=ink.ravel(), minlength=count + 1)
        ys, xs = np.nonzero(labels)
        owner = labels[ys, xs]
        x0 = np.full(count + 1, labels.shape[1])
        y0 = np.full(count + 1, labels.shape[0])
        x1 = np.zeros(count + 1, dtype=np.int64)
        y1 = np.zeros(count + 1, dtype=np.int64)
        np.minimum.at(x0, owner, xs)
        np.minimum.at(y0, owner, ys)
        np.maximum.at(x1, owner, xs + 1)
        np.maximum.at(y1, owner, ys + 1)
        for n in range(1, count + 1):
            if not strong[n] or areas[n] < min_area:
                continue
            box = (int(x0[n]), int(y0[n]), int(x1[n]), int(y1[n]))
            objects.append(Found(box, int(areas[n]), float(sums[n] / areas[n]), n))
    objects.sort(key=lambda found: (found.box[0], found.box[1]))
    return Detection(objects[:max_objects], ink, labels, light)


def crop_image(
    detection: Detection, found: Found, margin: float = MARGIN, cells: int = CELLS
) -> Image.Image:
    """The object as a square grayscale image, dark ink on white: its box of the ink map (other
    objects' ink blanked out) on white paper, with ``margin`` (a share of the longer side) all
    round.

    Along its shorter side the object is centred on whole cells of a ``cells`` x ``cells`` grid
    over the square, an odd spare cell going before it: a classifier that shrinks the crop to
    ``cells`` x ``cells`` pixels then sees the object's edges on its pixels' edges, sharp, as in
    scikit-learn's digits (whose ink fills the frame's height and, when it leaves an odd number
    of columns free, mostly sits one column right of centre).
    """
    x0, y0, x1, y1 = found.box
    ink = detection.ink[y0:y1, x0:x1].copy()
    labels = detection.labels[y0:y1, x0:x1]
    ink[(labels != 0) & (labels != found.label)] = 0.0
    paper = np.round(255 * (1.0 - ink)).astype(np.uint8)
    width, height = x1 - x0, y1 - y0
    side = max(width, height)
    border = round(side * margin)
    frame = side + 2 * border
    cell = frame / cells

    def offset(length: int) -> int:
        spare = (side - length) // cell  # whole cells of paper beside the object
        return border + min(round(math.ceil(spare / 2) * cell), side - length)

    square = Image.new("L", (frame, frame), 255)
    square.paste(Image.fromarray(paper, mode="L"), (offset(width), offset(height)))
    return square
