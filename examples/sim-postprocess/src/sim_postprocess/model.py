"""The served model: summarise a simulation output file; as a training job, write the report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any

from modelport import Field, File, Model, TrainContext
from modelport.errors import InvalidInput
from sim_postprocess.npz import READ_ERRORS, NpzReader
from sim_postprocess.postprocess import NotNumeric, Report, UnknownVariable, postprocess
from sim_postprocess.synthetic import DEMO_DATA, write_demo

#: what ``file`` must be, as said to a caller who sent something else
NPZ_FORMAT = "the simulation output as a NumPy .npz file (numpy.savez writes one)"


class SimulationPostprocessor(Model):
    """Post-process simulation output: summary statistics and plots of every field, by chunks.

    Run it as a batch job (``train``) on a large ``.npz`` file given by path or URL: it streams
    each array along its first axis (time steps), reports progress per chunk, and writes
    ``summary.json`` and PNG plots (per-step series, histogram, last step) as job artifacts.
    ``predict`` summarises a small uploaded file at once.
    """

    name = "sim-postprocess"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"source_code": "https://github.com/modelport/modelport/tree/main/examples"}

    def predict(
        self,
        file: File | None = Field(
            None,
            description="The simulation output (.npz) to summarise",
            json_schema_extra={"x-modelport-media-types": ["application/x-npz"]},
        ),
        demo: bool = Field(
            False,
            description="Summarise a small synthetic output generated on the fly instead of a file",
            examples=[True],
        ),
        variables: list[str] | None = Field(
            None, description="Arrays to summarise (default: all fields)"
        ),
        chunk_steps: int = Field(16, ge=1, description="Steps read at a time"),
    ) -> dict[str, Any]:
        """Summary statistics of an uploaded ``.npz`` file (no plots, no per-step series)."""
        if file is None and not demo:
            raise InvalidInput({"file": [f"Missing: upload {NPZ_FORMAT}, or set demo to true."]})
        with tempfile.TemporaryDirectory() as workdir:
            opened = (
                file.open() if file is not None else write_demo(Path(workdir) / "d.npz").open("rb")
            )
            with opened as handle:
                report = summarise(handle, file, variables, chunk_steps)
        for entry in report.summary["variables"].values():
            entry.pop("per_step")
            entry.pop("histogram", None)
        return report.summary

    def train(
        self,
        ctx: TrainContext,
        *,
        data: str = Field(
            description=(
                'The simulation output (.npz): a path or URL; or "demo" for a small '
                "synthetic simulation output generated on the fly, offline"
            ),
            examples=[DEMO_DATA],
        ),
        variables: list[str] | None = Field(
            None, description="Arrays to process (default: all fields)"
        ),
        chunk_steps: int = Field(16, ge=1, description="Steps read at a time"),
        bins: int = Field(50, ge=2, le=1000, description="Histogram bins"),
    ) -> dict[str, Any]:
        """Write ``summary.json`` and plots as artifacts; the result lists the totals."""

        def progress(done: int, total: int, message: str) -> None:
            ctx.report(done / total, message, step=done)
            print(message)

        with tempfile.TemporaryDirectory() as workdir:
            if data == DEMO_DATA:
                data = str(write_demo(Path(workdir) / "demo.npz"))
                print(f"demo data: a synthetic simulation output ({Path(data).name})")
            with ctx.open(data) as handle:
                reader = NpzReader(handle)
                report = postprocess(
                    reader, variables, chunk_steps=chunk_steps, bins=bins, on_chunk=progress
                )
        ctx.save_artifact("summary.json", report.summary)
        for name, png in report.plots.items():
            ctx.save_artifact(f"plots/{name}", png)
        return {
            name: {k: entry[k] for k in ("shape", "mean", "std", "min", "max", "nans")}
            for name, entry in report.summary["variables"].items()
        } | {"plots": sorted(report.plots)}


def summarise(
    handle: IO[bytes], file: File | None, variables: list[str] | None, chunk_steps: int
) -> Report:
    """Post-process an open ``.npz`` (no plots); InvalidInput naming ``file`` when it cannot
    be read, ``variables`` when they are not in it."""
    try:
        reader = NpzReader(handle)
        return postprocess(reader, variables, chunk_steps=chunk_steps, plots=False)
    except UnknownVariable as exc:
        unknown = ", ".join(map(repr, exc.unknown))
        known = ", ".join(exc.known) or "none"
        message = f"Unknown variable {unknown}: the file's variables are {known}."
        raise InvalidInput({"variables": [message]}) from None
    except NotNumeric as exc:
        raise InvalidInput({"variables": [f"{exc}: no statistics of it."]}) from None
    except READ_ERRORS as exc:
        name = repr(file.filename) if file is not None else "the demo output"
        raise InvalidInput(
            {"file": [f"{name} cannot be read: {exc}. Expected {NPZ_FORMAT}."]}
        ) from None
