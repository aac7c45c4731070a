"""Scenes of handwritten digits to detect: scikit-learn's 8x8 digits, drawn larger, in a row.

``make_scene((3, 1, 4), seed=0)`` draws those digits (each a random image of that digit, as the
classifier pilot draws them: dark ink on white, ``SCALE`` times larger) left to right on white
paper, with random gaps and a random vertical jitter. ``python -m tiny_detector.scene 3 1 4
--out scene.png`` writes one. The scene shipped with the package, ``scene.png``, is
``python -m tiny_detector.scene 3 1 4 --seed 2 --out src/tiny_detector/scene.png`` (seed 2: its
digits are ones the image-classifier pilot reads right, as a demo of the pipeline should show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

#: the digits' 8x8 images are drawn this many times larger
SCALE = 4
#: paper around the row of digits, and the least and most gap between two digits (pixels)
BORDER = 12
MIN_GAP = 8
MAX_GAP = 24
#: how far up or down a digit may sit from the row's line (pixels)
JITTER = 8
#: the scene the package ships (tests and docs use it)
EXAMPLE_SCENE = Path(__file__).with_name("scene.png")
EXAMPLE_DIGITS = (3, 1, 4)
EXAMPLE_SEED = 2


@dataclass(frozen=True)
class Placed:
    """A digit as drawn in a scene: its value, its row in scikit-learn's digits, its box (x0, y0,
    x1, y1 exclusive: the whole SCALE-times-larger 8x8 frame, ink or not)."""

    digit: int
    index: int
    box: tuple[int, int, int, int]


@cache
def _digits() -> Any:
    from sklearn.datasets import load_digits

    return load_digits()


def digit_pixels(index: int) -> NDArray[np.uint8]:
    """The ``index``-th scikit-learn digit as dark ink on white (0..255), SCALE times larger."""
    values = _digits().data[index].reshape(8, 8)
    gray = np.round(255 - values * 255 / 16).astype(np.uint8)
    return np.kron(gray, np.ones((SCALE, SCALE), dtype=np.uint8))


def layout(
    digits: Sequence[int],
    seed: int,
    *,
    pool: Sequence[int] | None = None,
    specks: int = 0,
    dark: bool = False,
) -> tuple[Image.Image, list[Placed]]:
    """A scene of ``digits`` and where each was drawn (see :func:`make_scene`)."""
    if not digits:
        raise ValueError("a scene needs at least one digit")
    if any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits are 0 to 9: {list(digits)}")
    rng = np.random.default_rng(seed)
    target = _digits().target
    allowed = np.arange(len(target)) if pool is None else np.asarray(pool, dtype=np.int64)
    side = 8 * SCALE
    gaps = rng.integers(MIN_GAP, MAX_GAP + 1, size=len(digits) - 1)
    width = 2 * BORDER + side * len(digits) + int(gaps.sum())
    height = 2 * BORDER + side + 2 * JITTER
    canvas = np.full((height, width), 255, dtype=np.uint8)
    placed: list[Placed] = []
    x = BORDER
    used: set[int] = set()
    for n, digit in enumerate(digits):
        candidates = allowed[target[allowed] == digit]
        if len(candidates) == 0:
            raise ValueError(f"no image of the digit {digit} to draw from")
        unused = candidates[~np.isin(candidates, list(used))]
        index = int(rng.choice(unused if len(unused) else candidates))
        used.add(index)
        y = BORDER + JITTER + int(rng.integers(-JITTER, JITTER + 1))
        canvas[y : y + side, x : x + side] = digit_pixels(index)
        placed.append(Placed(digit, index, (x, y, x + side, y + side)))
        x += side + (int(gaps[n]) if n < len(gaps) else 0)
    for _ in range(specks):  # 1 or 2 pixel dots of ink, in the paper around the digits
        sy, sx = int(rng.integers(0, BORDER - 2)), int(rng.integers(0, width - 2))
        size = int(rng.integers(1, 3))
        canvas[sy : sy + size, sx : sx + size] = 0
    if dark:
        canvas = 255 - canvas
    return Image.fromarray(canvas, mode="L"), placed


def make_scene(
    digits: Sequence[int],
    seed: int,
    *,
    pool: Sequence[int] | None = None,
    specks: int = 0,
    dark: bool = False,
) -> Image.Image:
    """A grayscale scene of ``digits``, left to right: each an image of that digit drawn at
    random (by ``seed``; from the rows ``pool`` of scikit-learn's digits when given; no image
    twice in a scene while the digit has others), dark ink on
    white paper (light strokes on black with ``dark``), with ``specks`` dots of noise above."""
    image, _ = layout(digits, seed, pool=pool, specks=specks, dark=dark)
    return image


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tiny_detector.scene 3 1 4 [--seed 0] [--out scene.png]``."""
    import argparse

    parser = argparse.ArgumentParser(description=make_scene.__doc__)
    parser.add_argument("digits", type=int, nargs="+", help="the digits to draw, left to right")
    parser.add_argument("--seed", type=int, default=0, help="which images, gaps and offsets")
    parser.add_argument("--out", type=Path, default=Path("scene.png"), help="the PNG to write")
    parser.add_argument("--specks", type=int, default=0, help="dots of noise to add")
    parser.add_argument("--dark", action="store_true", help="light strokes on a dark ground")
    args = parser.parse_args(argv)
    image = make_scene(args.digits, args.seed, specks=args.specks, dark=args.dark)
    image.save(args.out, format="PNG", optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
