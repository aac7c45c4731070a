"""The served model: score records one by one or in batches; retrain on the recorded history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from modelport import Field, File, Model, TrainContext
from modelport.errors import InvalidInput, NotFound
from stream_anomaly.detector import Detector
from stream_anomaly.records import (
    BATCH_FORMAT,
    Protocol,
    TrafficRecord,
    field_errors,
    parse_batch,
)
from stream_anomaly.state import StateStore
from stream_anomaly.traffic import generate

#: the artifact a training writes (the fitted detector); it seeds an empty state when served
DETECTOR_ARTIFACT = "detector.json"
_BASELINE_RECORDS = 1000
#: the special ``data`` value a training adds synthetic traffic for (see :mod:`.traffic`)
DEMO_DATA = "demo"
#: how many synthetic records ``data="demo"`` adds, about 2% of them attacks
DEMO_RECORDS = 500
#: the fewest records a detector is fitted on
MIN_RECORDS = 10
#: what a batch that holds no record is told
NO_RECORDS = f"No records in it. Expected {BATCH_FORMAT}."


#: Batch files the dashboard offers (and the snippets name their example by).
BATCH_MEDIA_TYPES = ("application/x-ndjson", "text/csv")


class ScoredRecord(BaseModel):
    """One record's verdict: its history id, score (largest |z|), and the features to blame."""

    id: int
    score: float
    anomaly: bool
    reasons: list[str]


class Scores(BaseModel):
    """The verdicts of one request, in the order the records came."""

    results: list[ScoredRecord]
    records: int
    anomalies: int
    threshold: float
    history: int


def baseline() -> Detector:
    """A detector fitted on synthetic normal traffic, until one is trained on real history."""
    normal = [TrafficRecord.model_validate(r) for r in generate(_BASELINE_RECORDS, 0.0, seed=1)]
    return Detector.fit(normal, source="synthetic baseline")


class StreamAnomalyDetector(Model):
    """Flag anomalous network connections in a stream, learning what normal traffic looks like.

    Post one connection record (duration, bytes in/out, packets, port, protocol) as a JSON
    object, or a batch as NDJSON/CSV (text in ``records`` or a file in ``batch``). Every record
    is scored with robust z-scores of its features, stored in a history, and, when normal,
    updates the detector. State and history persist (SQLite) across requests and restarts;
    training refits the detector on the history.
    """

    name = "stream-anomaly"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"source_code": "https://github.com/modelport/modelport/tree/main/examples"}

    def warm(self) -> None:
        """Open the state; an empty one starts from a published detector or the baseline."""
        self.store = StateStore()
        if self.store.detector() is None:
            try:
                seed = Detector.from_json(_read_json(self.artifact(DETECTOR_ARTIFACT)))
            except NotFound:
                seed = baseline()
            self.store.save(seed)

    def predict(  # noqa: PLR0917 - one argument per record field: a JSON object maps onto them
        self,
        duration: float | None = Field(
            None, ge=0, description="Connection duration (s)", examples=[1.2]
        ),
        bytes_in: int | None = Field(None, ge=0, description="Bytes received", examples=[12000]),
        bytes_out: int | None = Field(None, ge=0, description="Bytes sent", examples=[3000]),
        packets: int | None = Field(None, ge=0, description="Packets exchanged", examples=[20]),
        port: int | None = Field(
            None, ge=0, le=65535, description="Destination port", examples=[443]
        ),
        protocol: Protocol | None = Field(None, description="Transport protocol", examples=["tcp"]),
        timestamp: str | None = Field(
            None,
            description="When it happened (kept in history)",
            examples=["2024-01-01T12:00:00Z"],
        ),
        records: str | None = Field(None, description="A batch: NDJSON lines or CSV text"),
        batch: File | None = Field(
            None,
            description="A batch: an NDJSON or CSV file",
            json_schema_extra={"x-modelport-media-types": list(BATCH_MEDIA_TYPES)},
        ),
        learn: bool = Field(True, description="Let normal records update the detector"),
    ) -> Scores:
        """Score the record (or batch), append it to the history, and learn from normal ones."""
        fields = {
            "duration": duration,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "packets": packets,
            "port": port,
            "protocol": protocol,
        }
        given: list[TrafficRecord] = []
        if any(v is not None for v in fields.values()):
            given.append(one_record(fields, timestamp))
        if records:
            given += read_batch("records", records)
        if batch is not None:
            given += read_batch("batch", batch_text(batch))
        if not given:
            if records or batch is not None:
                raise InvalidInput({"batch" if batch is not None else "records": [NO_RECORDS]})
            hint = "Missing: give this field of one record, or a batch in `records` or `batch`."
            raise InvalidInput({name: [hint] for name in fields})
        return self.score(given, learn=learn)

    def score(self, given: list[TrafficRecord], *, learn: bool = True) -> Scores:
        """Judge records against the stored detector in one transaction; store everything."""
        with self.store.transaction() as conn:
            detector = self.store.read_detector(conn) or baseline()
            verdicts = []
            for record in given:
                verdict = detector.judge(record)
                if learn and not verdict.anomaly:
                    detector.learn(record)
                verdicts.append(verdict)
            self.store.write_detector(conn, detector)
            ids = self.store.append(conn, given, verdicts)
        results = [
            ScoredRecord(id=i, score=v.score, anomaly=v.anomaly, reasons=v.reasons)
            for i, v in zip(ids, verdicts, strict=True)
        ]
        return Scores(
            results=results,
            records=len(results),
            anomalies=sum(r.anomaly for r in results),
            threshold=detector.threshold,
            history=self.store.size(),
        )

    def train(
        self,
        ctx: TrainContext,
        *,
        last: int | None = Field(None, ge=10, description="Fit on the latest N records only"),
        data: str | None = Field(
            None,
            description=(
                "More records: NDJSON/CSV, a file of your data (data://traffic.ndjson), a path "
                'or URL; or "demo" for synthetic traffic '
                f"({DEMO_RECORDS} records, about 2% attacks) generated on the fly, offline"
            ),
            examples=[DEMO_DATA],
            json_schema_extra={
                "x-modelport-data": {"media_types": list(BATCH_MEDIA_TYPES), "demo": DEMO_DATA}
            },
        ),
        threshold: float = Field(5.0, gt=0, description="Score above which a record is anomalous"),
        alpha: float = Field(0.01, ge=0, le=1, description="Online update rate (0 = frozen)"),
    ) -> dict[str, Any]:
        """Refit the detector on the history (and ``data``); it is served at once."""
        store = StateStore()
        ctx.report(0.0, "reading the history")
        rows = [row["record"] for row in store.history(last)]
        if data == DEMO_DATA:
            rows += generate(DEMO_RECORDS, 0.02, seed=0)
            print(f"demo data: {DEMO_RECORDS} synthetic records")
        elif data:
            with ctx.open(data, "r") as handle:
                rows += [r.model_dump() for r in parse_batch(handle.read())]
        if len(rows) < MIN_RECORDS:
            raise ValueError(
                f"nothing to train on: the history has {len(rows)} record(s), and a detector "
                f"needs at least {MIN_RECORDS}. Post records to predict first, give more in "
                f'`data` (NDJSON/CSV by path or URL), or train with data="{DEMO_DATA}" to '
                "add synthetic traffic"
            )
        records = [TrafficRecord.model_validate(r) for r in rows]
        print(f"fitting on {len(records)} records ({store.path})")
        detector = Detector.fit(records, threshold=threshold, alpha=alpha)
        summary = evaluate(ctx, detector, records)
        store.save(detector)
        ctx.save_artifact(DETECTOR_ARTIFACT, detector.to_json())
        ctx.save_artifact("summary.json", summary)
        return summary


def one_record(fields: dict[str, Any], timestamp: str | None) -> TrafficRecord:
    """The record given field by field; InvalidInput naming each missing or bad field."""
    extra = {"timestamp": timestamp} if timestamp else {}
    try:
        return TrafficRecord.model_validate(
            {k: v for k, v in fields.items() if v is not None} | extra
        )
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from None


def batch_text(batch: File) -> str:
    """The batch file as text; InvalidInput naming ``batch`` when it is not text."""
    data = batch.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        raise InvalidInput(
            {"batch": [f"{batch.filename!r} is not UTF-8 text. Expected {BATCH_FORMAT}."]}
        )
    return text


def read_batch(field: str, text: str) -> list[TrafficRecord]:
    """The records of a batch; InvalidInput naming ``field`` and the line at fault."""
    try:
        return parse_batch(text)
    except ValueError as exc:
        raise InvalidInput({field: [f"{exc}. Expected {BATCH_FORMAT}."]}) from None


def evaluate(ctx: TrainContext, detector: Detector, records: list[TrafficRecord]) -> dict[str, Any]:
    """Score the training records in chunks (a report each); precision/recall where labelled."""
    chunk = max(1, len(records) // 10)
    flagged, labelled, hits, attacks = 0, 0, 0, 0
    for start in range(0, len(records), chunk):
        for record in records[start : start + chunk]:
            anomaly = detector.judge(record).anomaly
            flagged += anomaly
            label = (record.model_extra or {}).get("label")
            if label is not None:
                labelled += 1
                attacks += label != "normal"
                hits += anomaly and label != "normal"
        done = min(start + chunk, len(records))
        ctx.report(
            done / len(records), f"scored {done}/{len(records)}", anomaly_rate=flagged / done
        )
    summary: dict[str, Any] = {
        "records": len(records),
        "anomalies": flagged,
        "anomaly_rate": round(flagged / len(records), 6),
        "threshold": detector.threshold,
    }
    if labelled:
        summary["precision"] = round(hits / flagged, 6) if flagged else None
        summary["recall"] = round(hits / attacks, 6) if attacks else None
    return summary


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
