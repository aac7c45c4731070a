"""Simulation post-processing through the real contract: a chunked batch job writing artifacts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy
from PIL import Image

from modelport.catalog.files import load_metadata
from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.contract.files import UploadedFile
from modelport.db import connect
from modelport.errors import InvalidInput
from modelport.jobs.context import TrainContext
from modelport.jobs.domain import EventKind, Job
from modelport.jobs.store import JobStore
from sim_postprocess.npz import NpzReader
from sim_postprocess.synthetic import write_simulation

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic simulation output (40 steps of 24x32)."""
    return write_simulation(tmp_path_factory.mktemp("sim") / "run.npz", steps=40, ny=24, nx=32)


def test_the_batch_job_writes_statistics_and_plots_chunk_by_chunk(
    simulation: Path, tmp_path: Path
) -> None:
    store = JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))
    job = store.create(Job(model="sim-postprocess", model_spec="sim-postprocess"))
    ctx = TrainContext(store, job.id, str(tmp_path / "artifacts"))
    model = discovery.load("sim-postprocess")
    args = model.prepare_train(RawArgs(json={"data": simulation.as_uri(), "chunk_steps": 8})).args
    result = model.train(args, ctx)

    with np.load(simulation) as arrays:
        temperature = arrays["temperature"].astype(np.float64)
        times = arrays["time"]
    summary = json.loads((tmp_path / "artifacts" / "summary.json").read_text())
    entry = summary["variables"]["temperature"]
    assert entry["shape"] == [40, 24, 32]
    assert entry["mean"] == pytest.approx(temperature.mean())
    assert entry["std"] == pytest.approx(temperature.std())
    assert entry["min"] == pytest.approx(temperature.min())
    assert entry["per_step"]["mean"] == pytest.approx(temperature.mean(axis=(1, 2)).tolist())
    assert sum(entry["histogram"]["counts"]) == temperature.size
    assert summary["coordinates"]["time"] == {"size": 40, "first": 0.0, "last": float(times[-1])}
    assert result["temperature"]["max"] == pytest.approx(temperature.max())
    assert set(summary["variables"]) == {"temperature", "pressure"}

    plots = sorted(p.name for p in (tmp_path / "artifacts" / "plots").iterdir())
    assert plots == result["plots"]
    assert "temperature-last-step.png" in plots
    for name in plots:
        with Image.open(tmp_path / "artifacts" / "plots" / name) as image:
            assert image.format == "PNG"
            assert image.size == (640, 400)

    # progress: one report per chunk, 5 chunks x 2 passes x 2 variables
    assert store.get(job.id).progress == 1.0
    progress = [e for e in store.events(job.id) if e.kind is EventKind.PROGRESS]
    assert len(progress) == 20
    artifacts = store.events(job.id, kinds=[EventKind.ARTIFACT])
    assert artifacts[0].data["name"] == "summary.json"


def test_predict_summarises_an_upload(simulation: Path) -> None:
    model = discovery.load("sim-postprocess")
    raw = RawArgs(json={"variables": ["pressure"]})
    raw.add("file", UploadedFile("file", str(simulation), "application/octet-stream", "run.npz"))
    summary = json.loads(model.predict(model.prepare(raw)).content)
    assert list(summary["variables"]) == ["pressure"]
    assert summary["variables"]["pressure"]["mean"] == pytest.approx(1013.0, abs=0.1)
    assert "per_step" not in summary["variables"]["pressure"]


def test_predict_summarises_the_demo_output_without_a_file() -> None:
    model = discovery.load("sim-postprocess")
    summary = json.loads(model.predict(model.prepare(RawArgs(json={"demo": True}))).content)
    assert summary["variables"]["temperature"]["shape"] == [24, 32, 48]
    with pytest.raises(InvalidInput) as missing:
        model.predict(model.prepare(RawArgs()))
    assert list(missing.value.errors) == ["file"]
    assert "or set demo to true" in missing.value.errors["file"][0]


def test_unknown_variables_and_non_npz_files_are_explained(
    simulation: Path, tmp_path: Path
) -> None:
    model = discovery.load("sim-postprocess")
    raw = RawArgs(json={"variables": ["salinity"]})
    raw.add("file", UploadedFile("file", str(simulation), "application/octet-stream", "run.npz"))
    with pytest.raises(InvalidInput) as unknown:
        model.predict(model.prepare(raw))
    assert unknown.value.errors == {
        "variables": [
            "Unknown variable 'salinity': the file's variables are pressure, temperature, time."
        ]
    }
    text = tmp_path / "notes.txt"
    text.write_text("plain text")
    raw = RawArgs()
    raw.add("file", UploadedFile("file", str(text), "text/plain", "notes.txt"))
    with pytest.raises(InvalidInput) as not_npz:
        model.predict(model.prepare(raw))
    [message] = not_npz.value.errors["file"]
    assert message.startswith("'notes.txt' cannot be read: not an .npz file")
    assert "Expected the simulation output as a NumPy .npz file" in message
    assert str(tmp_path) not in message
    with pytest.raises(ValueError, match=r"not an \.npz"):
        NpzReader(io.BytesIO(b"plain text"))


def test_a_variable_of_strings_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, names=np.array([["a", "b"], ["c", "d"]]), values=np.zeros((2, 2)))
    model = discovery.load("sim-postprocess")
    raw = RawArgs(json={"variables": ["names"]})
    raw.add("file", UploadedFile("file", str(path), "application/octet-stream", "labels.npz"))
    with pytest.raises(InvalidInput) as strings:
        model.predict(model.prepare(raw))
    assert strings.value.errors == {
        "variables": ["names holds <U1 values, not numbers: no statistics of it."]
    }
    everything = RawArgs()  # by default, the arrays of numbers only
    everything.add("file", UploadedFile("file", str(path), "application/octet-stream", "x.npz"))
    assert list(json.loads(model.predict(model.prepare(everything)).content)["variables"]) == [
        "values"
    ]


def test_chunks_stream_uncompressed_and_2_0_headers(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    big = np.arange(7 * 3, dtype=np.int16).reshape(7, 3)
    np.savez(path, big=big, scalar=np.float64(2.5))
    with path.open("rb") as handle:
        reader = NpzReader(handle)
        blocks = list(reader.chunks("big", 3))
    assert [start for start, _ in blocks] == [0, 3, 6]
    assert np.array_equal(np.vstack([b for _, b in blocks]), big)
    assert reader.arrays["scalar"].shape == ()


def test_metadata_is_valid() -> None:
    assert "AI4 tools" in load_metadata(PROJECT).categories


def test_an_npz_that_lies_or_holds_too_many_members_is_refused(tmp_path: Path) -> None:
    many = tmp_path / "many.npz"
    np.savez(many, **{f"a{i}": np.zeros(1) for i in range(1001)})
    with many.open("rb") as handle, pytest.raises(ValueError, match="at most 1000 are read"):
        NpzReader(handle)
    # a header claiming a 1e12-row array over a few bytes of data
    liar = io.BytesIO()
    with zipfile.ZipFile(liar, "w") as archive:
        header = io.BytesIO()
        npy.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
        )
        archive.writestr("temperature.npy", header.getvalue() + b"\0" * 64)
    liar.seek(0)
    with pytest.raises(ValueError, match="claims more data than it holds"):
        NpzReader(liar)
