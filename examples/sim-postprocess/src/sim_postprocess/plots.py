"""PNG plots drawn with Pillow (no plotting library needed): series, histogram, field map."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 400
MARGIN = 56
_INK, _GRID, _LINE, _BAND = (30, 30, 30), (220, 220, 220), (31, 119, 180), (174, 199, 232)
# viridis, sampled at 6 points and interpolated
_VIRIDIS = np.array(
    [[68, 1, 84], [65, 68, 135], [42, 120, 142], [34, 168, 132], [122, 209, 81], [253, 231, 37]],
    dtype=np.float64,
)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _frame(
    title: str, low: float = 0.0, high: float = 0.0, *, grid: bool = True
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 12), title, fill=_INK)
    for k in range(5 if grid else 0):
        y = HEIGHT - MARGIN - k * (HEIGHT - 2 * MARGIN) / 4
        draw.line([(MARGIN, y), (WIDTH - MARGIN, y)], fill=_GRID)
        draw.text((4, y - 6), f"{low + k * (high - low) / 4:.4g}", fill=_INK)
    if grid:
        draw.rectangle([MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT - MARGIN], outline=_INK)
    return image, draw


def _scale(values: np.ndarray[Any, Any], low: float, high: float, size: int) -> Any:
    span = high - low or 1.0
    return (np.asarray(values, dtype=np.float64) - low) / span * size


def series_plot(
    title: str,
    x: Sequence[float],
    mean: Sequence[float],
    *,
    low: Sequence[float],
    high: Sequence[float],
    x_label: str = "step",
) -> bytes:
    """A line (``mean``) over a band (``low``..``high``) against ``x``."""
    top, bottom = float(np.nanmax(high)), float(np.nanmin(low))
    image, draw = _frame(title, bottom, top)
    xs = MARGIN + _scale(np.asarray(x), float(min(x)), float(max(x)), WIDTH - 2 * MARGIN)

    def ys(values: Sequence[float]) -> Any:
        return HEIGHT - MARGIN - _scale(np.asarray(values), bottom, top, HEIGHT - 2 * MARGIN)

    band = list(zip(xs, ys(high), strict=True)) + list(zip(xs[::-1], ys(low)[::-1], strict=True))
    if len(band) >= 3:
        draw.polygon(band, fill=_BAND)
    draw.line(list(zip(xs, ys(mean), strict=True)), fill=_LINE, width=2)
    draw.text((WIDTH // 2 - 20, HEIGHT - MARGIN + 18), x_label, fill=_INK)
    draw.text((MARGIN, HEIGHT - MARGIN + 4), f"{min(x):.4g}", fill=_INK)
    draw.text((WIDTH - MARGIN - 30, HEIGHT - MARGIN + 4), f"{max(x):.4g}", fill=_INK)
    return _png(image)


def histogram_plot(title: str, edges: Sequence[float], counts: Sequence[int]) -> bytes:
    """Bars of ``counts`` between consecutive ``edges``."""
    peak = float(max(*counts, 1))
    image, draw = _frame(title, 0.0, peak)
    width = (WIDTH - 2 * MARGIN) / len(counts)
    for i, count in enumerate(counts):
        x0 = MARGIN + i * width
        y0 = HEIGHT - MARGIN - count / peak * (HEIGHT - 2 * MARGIN)
        draw.rectangle([x0, y0, x0 + max(width - 1, 1), HEIGHT - MARGIN], fill=_LINE)
    draw.text((MARGIN, HEIGHT - MARGIN + 4), f"{edges[0]:.4g}", fill=_INK)
    draw.text((WIDTH - MARGIN - 30, HEIGHT - MARGIN + 4), f"{edges[-1]:.4g}", fill=_INK)
    return _png(image)


def colormap(values: np.ndarray[Any, Any], low: float, high: float) -> np.ndarray[Any, Any]:
    """RGB bytes for values between ``low`` and ``high`` (viridis; NaN is grey)."""
    t = np.clip((np.asarray(values, dtype=np.float64) - low) / ((high - low) or 1.0), 0, 1)
    t = np.nan_to_num(t, nan=0.0) * (len(_VIRIDIS) - 1)
    i = np.minimum(t.astype(int), len(_VIRIDIS) - 2)
    frac = (t - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac
    rgb[~np.isfinite(values)] = 128
    out: np.ndarray[Any, Any] = rgb.astype(np.uint8)
    return out


def field_plot(title: str, field: np.ndarray[Any, Any]) -> bytes:
    """A 2-D field as a colour map with its range, scaled to fit the frame."""
    grid = np.asarray(field, dtype=np.float64)
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    image, draw = _frame(title, grid=False)
    inner = (WIDTH - 2 * MARGIN - 60, HEIGHT - 2 * MARGIN)
    picture = Image.fromarray(colormap(grid[::-1], low, high), mode="RGB")  # row 0 at the bottom
    picture = picture.resize(inner, Image.Resampling.NEAREST)
    image.paste(picture, (MARGIN, MARGIN))
    bar = Image.fromarray(
        colormap(np.linspace(high, low, inner[1])[:, None].repeat(16, axis=1), low, high), "RGB"
    )
    image.paste(bar, (WIDTH - MARGIN - 40, MARGIN))
    draw.text((WIDTH - MARGIN - 20, MARGIN), f"{high:.4g}", fill=_INK)
    draw.text((WIDTH - MARGIN - 20, HEIGHT - MARGIN - 10), f"{low:.4g}", fill=_INK)
    return _png(image)
