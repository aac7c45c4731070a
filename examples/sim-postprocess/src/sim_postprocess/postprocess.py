"""The post-processing pipeline: per variable, a statistics pass and a histogram pass by chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim_postprocess.npz import NpzReader
from sim_postprocess.plots import field_plot, histogram_plot, series_plot
from sim_postprocess.stats import Histogram, RunningStats

#: the kinds of arrays with statistics: booleans, integers, floats
_NUMERIC = "biuf"
#: called after each chunk with (chunks done, chunks in all, a message)
ChunkHook = Callable[[int, int, str], None]


@dataclass
class Report:
    """What post-processing produced: the summary (JSON-able) and named PNG plots."""

    summary: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, bytes] = field(default_factory=dict)


class UnknownVariable(ValueError):
    """Variables asked for that the file does not hold: ``unknown``, and what it has."""

    def __init__(self, unknown: list[str], known: list[str]) -> None:
        super().__init__(f"no variable {unknown} in the file; it has {known}")
        self.unknown = unknown
        self.known = known


class NotNumeric(ValueError):
    """A variable whose values are not numbers (strings, objects...): no statistics."""

    def __init__(self, name: str, dtype: np.dtype[Any]) -> None:
        super().__init__(f"{name} holds {dtype} values, not numbers")
        self.name = name


def fields_of(reader: NpzReader, wanted: Sequence[str] | None) -> list[str]:
    """The variables to process: those asked for (UnknownVariable, NotNumeric if they cannot
    be), else every numeric array of 2 or more dimensions."""
    if not wanted:
        return [
            name
            for name, info in reader.arrays.items()
            if len(info.shape) >= 2 and info.dtype.kind in _NUMERIC
        ]
    unknown = sorted(set(wanted) - set(reader.arrays))
    if unknown:
        raise UnknownVariable(unknown, sorted(reader.arrays))
    for name in wanted:
        if reader.arrays[name].dtype.kind not in _NUMERIC:
            raise NotNumeric(name, reader.arrays[name].dtype)
    return list(wanted)


def postprocess(
    reader: NpzReader,
    variables: Sequence[str] | None = None,
    *,
    chunk_steps: int = 16,
    bins: int = 50,
    plots: bool = True,
    on_chunk: ChunkHook | None = None,
) -> Report:
    """Statistics, per-step series, histogram and plots of each variable, reading by chunks."""
    names = fields_of(reader, variables)
    steps = {n: reader.arrays[n].shape[0] if reader.arrays[n].shape else 1 for n in names}
    total = sum(2 * -(-steps[n] // chunk_steps) for n in names)  # two passes per variable
    done = 0
    report = Report(summary={"variables": {}, "coordinates": {}})

    def tick(message: str) -> None:
        nonlocal done
        done += 1
        if on_chunk is not None:
            on_chunk(done, total, message)

    for name in names:
        info = reader.arrays[name]
        stats, last = RunningStats(), None
        for start, block in reader.chunks(name, chunk_steps):
            stats.add(block)
            last = block[-1]
            tick(f"{name}: statistics, steps {start}-{start + len(block) - 1}")
        histogram = Histogram(stats.minimum, stats.maximum, bins) if stats.count else None
        for start, block in reader.chunks(name, chunk_steps):
            if histogram is not None:
                histogram.add(block)
            tick(f"{name}: histogram, steps {start}-{start + len(block) - 1}")
        entry: dict[str, Any] = {
            "shape": list(info.shape),
            "dtype": str(info.dtype),
            **stats.summary(),
            "per_step": {"mean": stats.step_mean, "min": stats.step_min, "max": stats.step_max},
        }
        if histogram is not None:
            entry["histogram"] = {"edges": histogram.edges, "counts": histogram.counts.tolist()}
        report.summary["variables"][name] = entry
        if plots and histogram is not None:
            report.plots.update(_plots(name, stats, histogram, last))
    for name, info in reader.arrays.items():
        if name not in names and len(info.shape) <= 1 and info.row_size <= 1:
            values = np.concatenate([b.ravel() for _, b in reader.chunks(name, 1 << 16)])
            report.summary["coordinates"][name] = {
                "size": int(values.size),
                "first": float(values[0]) if values.size else None,
                "last": float(values[-1]) if values.size else None,
            }
    return report


def _plots(
    name: str, stats: RunningStats, histogram: Histogram, last: np.ndarray[Any, Any] | None
) -> dict[str, bytes]:
    steps = list(range(len(stats.step_mean)))
    out = {
        f"{name}-series.png": series_plot(
            f"{name}: mean per step, min-max band",
            steps,
            stats.step_mean,
            low=stats.step_min,
            high=stats.step_max,
        ),
        f"{name}-histogram.png": histogram_plot(
            f"{name}: histogram of all values", histogram.edges, histogram.counts.tolist()
        ),
    }
    if last is not None and last.ndim == 2:
        out[f"{name}-last-step.png"] = field_plot(f"{name}: last step", last)
    return out
