"""The stream anomaly detector through the real contract: state, history, batches, retraining."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from modelport.catalog.files import load_metadata
from modelport.contract import discovery
from modelport.contract.base import RawArgs, ServedModel
from modelport.contract.files import UploadedFile
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.db import connect
from modelport.errors import InvalidInput
from modelport.jobs.context import TrainContext
from modelport.jobs.domain import Job
from modelport.jobs.store import JobStore
from stream_anomaly.records import parse_batch
from stream_anomaly.state import STATE_ENV, StateStore, state_dir
from stream_anomaly.traffic import generate, to_csv, to_ndjson

PROJECT = Path(__file__).resolve().parents[1]
NORMAL = {
    "duration": 1.1,
    "bytes_in": 12_000,
    "bytes_out": 3_000,
    "packets": 20,
    "port": 443,
    "protocol": "tcp",
}
EXFILTRATION = {**NORMAL, "duration": 300.0, "bytes_out": 14_000_000, "packets": 10_000}


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps its detector state and history in a directory of its own."""
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    return tmp_path / "state"


def served() -> ServedModel:
    """A freshly loaded and warmed model, as a (re)started server has it."""
    model = discovery.load("stream-anomaly")
    model.warm()
    return model


def score(model: ServedModel, raw: RawArgs) -> dict[str, Any]:
    """One prediction through the contract, decoded."""
    result: dict[str, Any] = json.loads(model.predict(model.prepare(raw)).content)
    return result


def test_records_posted_one_by_one_are_scored_and_kept_across_restarts(state: Path) -> None:
    model = served()
    normal = score(model, RawArgs(json=NORMAL))
    assert normal["records"] == 1
    assert normal["results"][0]["anomaly"] is False
    attack = score(model, RawArgs(json={**EXFILTRATION, "timestamp": "2026-01-01T00:00:00Z"}))
    verdict = attack["results"][0]
    assert verdict["anomaly"] is True
    assert "log_bytes_out" in verdict["reasons"]
    assert attack["history"] == 2

    restarted = served()  # a new process: same state directory, same history and detector
    assert score(restarted, RawArgs(json=NORMAL))["history"] == 3
    history = StateStore(state).history()
    assert [row["anomaly"] for row in history] == [False, True, False]
    assert history[1]["record"]["timestamp"] == "2026-01-01T00:00:00Z"
    assert StateStore(state).detector().updates == 2  # the attack taught it nothing


def test_batches_as_ndjson_text_and_csv_files(tmp_path: Path) -> None:
    model = served()
    traffic = generate(400, anomaly_rate=0.05, seed=3)
    attacks = [r["label"] != "normal" for r in traffic]
    ndjson = score(model, RawArgs(json={"records": to_ndjson(traffic[:200])}))
    upload = tmp_path / "traffic.csv"
    upload.write_text(to_csv(traffic[200:]))
    raw = RawArgs(json={"learn": False})
    raw.add("batch", UploadedFile("batch", str(upload), "text/csv", "traffic.csv"))
    csv = score(model, raw)
    flagged = [r["anomaly"] for r in ndjson["results"] + csv["results"]]
    assert flagged == attacks
    assert csv["history"] == 400
    assert [r["id"] for r in csv["results"]] == list(range(201, 401))


def invalid(model: ServedModel, raw: RawArgs) -> dict[str, list[str]]:
    """The field errors a prediction is refused with (as the 422's body has them)."""
    with pytest.raises(InvalidInput) as refused:
        model.predict(model.prepare(raw))
    return refused.value.errors


def test_bad_input_is_explained_by_field(tmp_path: Path) -> None:
    model = served()
    bad_line = invalid(
        model, RawArgs(json={"records": to_ndjson([NORMAL, {**NORMAL, "packets": -1}])})
    )
    assert list(bad_line) == ["records"]
    assert bad_line["records"][0].startswith("line 2: packets")
    partial = invalid(model, RawArgs(json={"duration": 1.0, "port": 443}))
    missing = ["Missing data for required field."]
    assert partial == {f: missing for f in ("bytes_in", "bytes_out", "packets", "protocol")}
    empty = invalid(model, RawArgs())
    assert set(empty) == {"duration", "bytes_in", "bytes_out", "packets", "port", "protocol"}
    assert "a batch in `records` or `batch`" in empty["protocol"][0]
    with pytest.raises(ValueError, match="line 1: not JSON"):
        parse_batch("{oops")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "'upload.bin' is not UTF-8 text"),
        (b"a,b\x00,c\n1,2,3\n", "'upload.bin' is not UTF-8 text"),
        (b"name,value\nx,1\n", "line 1: not a CSV header with the columns duration, bytes_in"),
        (b"duration,bytes_in,bytes_out,packets,port,protocol\n", "No records in it"),
    ],
)
def test_a_batch_file_that_is_not_ndjson_or_csv_is_refused_by_field(
    tmp_path: Path, content: bytes, said: str
) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(content)
    raw = RawArgs()
    raw.add("batch", UploadedFile("batch", str(upload), "image/png", "upload.bin"))
    errors = invalid(served(), raw)
    assert list(errors) == ["batch"]
    [message] = errors["batch"]
    assert said in message
    assert "Expected NDJSON (one JSON object a line) or CSV with a header row" in message


def test_concurrent_requests_lose_no_update(state: Path) -> None:
    model = served()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: score(model, RawArgs(json=NORMAL)), range(40)))
    store = StateStore(state)
    assert store.size() == 40
    assert store.detector().updates == 40


def test_training_refits_on_the_history_and_is_served_at_once(tmp_path: Path, state: Path) -> None:
    model = served()
    score(model, RawArgs(json={"records": to_ndjson(generate(300, 0.05, seed=7))}))
    jobs = JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))
    job = jobs.create(Job(model="stream-anomaly", model_spec="stream-anomaly"))
    ctx = TrainContext(jobs, job.id, str(tmp_path / "artifacts"))
    args = model.prepare_train(RawArgs(json={"threshold": 6.0, "last": 250})).args
    summary = model.train(args, ctx)

    assert summary["records"] == 250
    assert summary["precision"] == 1.0
    assert summary["recall"] == 1.0
    assert jobs.get(job.id).progress == 1.0
    assert {m.name for m in jobs.metrics(job.id)} == {"anomaly_rate"}
    detector = StateStore(state).detector()
    assert (detector.fitted_on, detector.threshold, detector.source) == (250, 6.0, "history")
    assert score(model, RawArgs(json=NORMAL))["threshold"] == 6.0  # no restart needed
    saved = json.loads((tmp_path / "artifacts" / "detector.json").read_text())
    assert saved["fitted_on"] == 250
    assert saved["features"][0] == "log_duration"


def test_training_reads_more_records_by_url(tmp_path: Path) -> None:
    data = tmp_path / "extra.csv"
    data.write_text(to_csv(generate(50, 0.0, seed=2)))
    model = served()
    jobs = JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))
    job = jobs.create(Job(model="stream-anomaly", model_spec="stream-anomaly"))
    ctx = TrainContext(jobs, job.id, str(tmp_path / "artifacts"))
    summary = model.train(model.prepare_train(RawArgs(json={"data": data.as_uri()})).args, ctx)
    assert summary["records"] == 50
    assert summary["anomalies"] == 0


def test_training_on_an_empty_history_explains_or_uses_demo_traffic(tmp_path: Path) -> None:
    model = served()
    jobs = JobStore(connect(f"sqlite:///{tmp_path}/jobs.db"))
    job = jobs.create(Job(model="stream-anomaly", model_spec="stream-anomaly"))
    ctx = TrainContext(jobs, job.id, str(tmp_path / "artifacts"))
    with pytest.raises(ValueError, match=r'history has 0 record.*data="demo"'):
        model.train(model.prepare_train(RawArgs()).args, ctx)
    summary = model.train(model.prepare_train(RawArgs(json={"data": "demo"})).args, ctx)
    assert summary["records"] == 500
    assert summary["recall"] is not None


def test_a_published_detector_seeds_an_empty_state(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = tmp_path / "version"
    published.mkdir()
    detector = {"center": [0.0] * 7, "scale": [1.0] * 7, "threshold": 9.0, "source": "v2"}
    (published / "detector.json").write_text(json.dumps(detector))
    monkeypatch.setenv(MODEL_DIR_ENV, str(published))
    served()
    assert StateStore(state).detector().source == "v2"


def test_where_the_state_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert state_dir() == tmp_path / "state"
    monkeypatch.delenv(STATE_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(tmp_path / "data"))  # the platform's, when set
    assert state_dir() == tmp_path / "data" / "stream-anomaly"
    monkeypatch.delenv("MODELPORT_DATA_DIR")
    assert state_dir() == tmp_path / "xdg" / "modelport" / "stream-anomaly"


def test_metadata_is_valid() -> None:
    metadata = load_metadata(PROJECT)
    assert "Anomaly Detection" in metadata.tasks
