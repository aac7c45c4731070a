"""One connection record: validation, batches as NDJSON or CSV, and the features it is scored on."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Protocol = Literal["tcp", "udp", "icmp"]
#: the features a record is scored on, in order
FEATURES = (
    "log_duration",
    "log_bytes_in",
    "log_bytes_out",
    "log_packets",
    "log_bytes_per_packet",
    "port_rarity",
    "protocol_rarity",
)


#: the fields every record has, in the order a CSV header may list them
RECORD_FIELDS = ("duration", "bytes_in", "bytes_out", "packets", "port", "protocol")
#: what a batch is, as said to a caller who sent something else
BATCH_FORMAT = (
    "NDJSON (one JSON object a line) or CSV with a header row, with the fields "
    + ", ".join(RECORD_FIELDS)
)


class TrafficRecord(BaseModel):
    """A network connection; other keys (timestamp, label, ...) are kept in the history."""

    model_config = ConfigDict(extra="allow")

    duration: float = Field(ge=0, description="Seconds")
    bytes_in: int = Field(ge=0)
    bytes_out: int = Field(ge=0)
    packets: int = Field(ge=0)
    port: int = Field(ge=0, le=65_535)
    protocol: Protocol


def parse_batch(text: str) -> list[TrafficRecord]:
    """Records from NDJSON (one object a line) or CSV with a header; ValueError names the line."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        return []
    if body.startswith("{"):
        rows: list[tuple[int, Any]] = []
        for number, line in enumerate(body.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"line {number}: not JSON: {exc.msg}") from None
    else:
        reader = csv.DictReader(io.StringIO(body))
        missing = [name for name in RECORD_FIELDS if name not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"line 1: not a CSV header with the columns {', '.join(missing)}")
        rows = [(number, row) for number, row in enumerate(reader, 2)]
    records = []
    for number, row in rows:
        try:
            records.append(TrafficRecord.model_validate(row))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"line {number}: {problems}") from None
    return records


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """A record's validation errors by field (the shape of a 422's body)."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        field = ".".join(map(str, error["loc"])) or "record"
        message = "Missing data for required field." if error["type"] == "missing" else error["msg"]
        errors.setdefault(field, []).append(message)
    return errors


def rarity(counts: dict[str, float], value: str) -> float:
    """How surprising a categorical value is: -log of its smoothed frequency so far."""
    total = sum(counts.values())
    return -math.log((counts.get(value, 0.0) + 1.0) / (total + len(counts) + 1.0))


def features(
    record: TrafficRecord, ports: dict[str, float], protocols: dict[str, float]
) -> NDArray[np.float64]:
    """The record's feature vector (see :data:`FEATURES`) given the value counts so far."""
    traffic = record.bytes_in + record.bytes_out
    return np.array(
        [
            math.log1p(record.duration),
            math.log1p(record.bytes_in),
            math.log1p(record.bytes_out),
            math.log1p(record.packets),
            math.log1p(traffic / max(record.packets, 1)),
            rarity(ports, str(record.port)),
            rarity(protocols, record.protocol),
        ]
    )
