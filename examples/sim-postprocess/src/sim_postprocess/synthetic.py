"""A synthetic simulation output: fields on a grid over time, as an ``.npz`` file.

``temperature`` (time, y, x): warm blobs drifting and diffusing over a cooling background, with
noise; ``pressure`` (time, y, x): a travelling wave; ``time`` (time,): the output times in hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: the special ``data`` value a training post-processes a small synthetic file for
DEMO_DATA = "demo"
#: the demo file's size: time steps, and the grid (y, x)
DEMO_SHAPE = (24, 32, 48)


def write_simulation(
    dest: Path, steps: int = 120, ny: int = 64, nx: int = 96, seed: int = 0
) -> Path:
    """Write the file (float32 fields, compressed); ``steps * ny * nx * 8`` bytes uncompressed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float32)
    times = np.arange(steps, dtype=np.float32) * 0.5
    temperature = np.empty((steps, ny, nx), dtype=np.float32)
    pressure = np.empty((steps, ny, nx), dtype=np.float32)
    centers = rng.uniform([0, 0], [ny, nx], size=(3, 2))
    velocity = rng.normal(0, 0.3, size=(3, 2))
    for step, hours in enumerate(times):
        width = 4.0 + 0.15 * step  # diffusion: the blobs spread out
        field = np.full((ny, nx), 15.0 - 0.02 * step, dtype=np.float32)
        for (cy, cx), (vy, vx) in zip(centers, velocity, strict=True):
            py, px = (cy + vy * step) % ny, (cx + vx * step) % nx
            field += 10.0 * (4.0 / width) * np.exp(-((y - py) ** 2 + (x - px) ** 2) / width**2)
        temperature[step] = field + rng.normal(0, 0.2, size=(ny, nx))
        pressure[step] = 1013.0 + 5.0 * np.sin(2 * np.pi * (x / nx - hours / 24.0))
    with dest.open("wb") as handle:
        np.savez_compressed(handle, temperature=temperature, pressure=pressure, time=times)
    return dest


def write_demo(dest: Path) -> Path:
    """Write the small demo file (:data:`DEMO_SHAPE`) a training with ``data="demo"`` reads."""
    steps, ny, nx = DEMO_SHAPE
    return write_simulation(dest, steps=steps, ny=ny, nx=nx)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sim_postprocess.synthetic OUT.npz [--steps 120] [--ny 64] [--nx 96]``."""
    import argparse

    parser = argparse.ArgumentParser(description=write_simulation.__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--ny", type=int, default=64)
    parser.add_argument("--nx", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_simulation(args.dest, args.steps, args.ny, args.nx, args.seed))


if __name__ == "__main__":
    main()
