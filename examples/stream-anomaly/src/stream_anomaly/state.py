"""The detector's state and the history of scored records, kept in one SQLite file.

The file is ``state.db`` in the state directory: ``$STREAM_ANOMALY_STATE_DIR`` if set, else
``stream-anomaly`` in the platform's data directory (``$MODELPORT_DATA_DIR``, which ``modelport
up`` gives its model workers and training jobs alike), else in the per-user data directory
(``$XDG_DATA_HOME/modelport``, by default ``~/.local/share/modelport``). The state outlives
requests, restarts and model versions, and the serving worker and a training job (separate
processes) share it: every read-score-write runs in one immediate transaction, so concurrent
requests never lose an update.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stream_anomaly.detector import Detector, Verdict
from stream_anomaly.records import TrafficRecord

STATE_ENV = "STREAM_ANOMALY_STATE_DIR"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS detector (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL,
                                     updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL,
                                    record TEXT NOT NULL, score REAL NOT NULL,
                                    anomaly INTEGER NOT NULL);
"""


def state_dir() -> Path:
    """Where the state lives (see the module docstring)."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    platform = os.environ.get("MODELPORT_DATA_DIR")
    if platform:
        return Path(platform) / "stream-anomaly"
    from modelport.settings import default_data_dir

    return default_data_dir() / "stream-anomaly"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StateStore:
    """The detector state (one row) and the history (one row per scored record)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "state.db"
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, committed unless it raises."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    @staticmethod
    def read_detector(conn: sqlite3.Connection) -> Detector | None:
        """The stored detector, if any."""
        row = conn.execute("SELECT state FROM detector WHERE id = 1").fetchone()
        return Detector.from_json(json.loads(row[0])) if row else None

    @staticmethod
    def write_detector(conn: sqlite3.Connection, detector: Detector) -> None:
        """Replace the stored detector."""
        conn.execute(
            "INSERT INTO detector (id, state, updated_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            (json.dumps(detector.to_json()), _now()),
        )

    @staticmethod
    def append(
        conn: sqlite3.Connection, records: Sequence[TrafficRecord], verdicts: Sequence[Verdict]
    ) -> list[int]:
        """Add scored records to the history; their ids."""
        received = _now()
        ids = []
        for record, verdict in zip(records, verdicts, strict=True):
            cursor = conn.execute(
                "INSERT INTO history (received_at, record, score, anomaly) VALUES (?, ?, ?, ?)",
                (received, record.model_dump_json(), verdict.score, int(verdict.anomaly)),
            )
            ids.append(int(cursor.lastrowid or 0))
        return ids

    def detector(self) -> Detector | None:
        """The stored detector, read on its own."""
        with self.transaction() as conn:
            return self.read_detector(conn)

    def save(self, detector: Detector) -> None:
        """Store a detector (a training's result), replacing the current one."""
        with self.transaction() as conn:
            self.write_detector(conn, detector)

    def history(self, last: int | None = None) -> list[dict[str, Any]]:
        """The recorded history, oldest first; only the ``last`` records when given."""
        query = "SELECT id, received_at, record, score, anomaly FROM history ORDER BY id DESC"
        params: tuple[int, ...] = ()
        if last is not None:
            query += " LIMIT ?"
            params = (last,)
        conn = self._connect()
        try:
            rows = conn.execute(query, params).fetchall()
        finally:
            conn.close()
        return [
            {"id": i, "received_at": at, "record": json.loads(r), "score": s, "anomaly": bool(a)}
            for i, at, r, s, a in reversed(rows)
        ]

    def size(self) -> int:
        """How many records the history holds."""
        conn = self._connect()
        try:
            return int(conn.execute("SELECT count(*) FROM history").fetchone()[0])
        finally:
            conn.close()
