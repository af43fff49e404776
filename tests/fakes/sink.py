"""An AlarmSink of its own for the consumer tests: a SQLite table of readings keyed by
``Reading.key`` (idempotent, durable when ``ingest`` returns), counting every delivery so a
test can see redeliveries happen and make nothing new. The real pipeline is
``agents.perception.Perception``; these tests check the consumers, not the rules."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from domain.alarms import IngestResult, Outcome, Reading


class SqliteSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS readings (key TEXT PRIMARY KEY, body TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS deliveries (n INTEGER)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
        out = []
        with self._lock, self._connect() as db:
            for r in batch:
                cur = db.execute(
                    "INSERT OR IGNORE INTO readings VALUES (?, ?)", (r.key, r.model_dump_json())
                )
                outcome = Outcome.NEW if cur.rowcount else Outcome.DUPLICATE
                out.append(IngestResult(key=r.key, outcome=outcome))
            db.execute("INSERT INTO deliveries VALUES (?)", (len(batch),))
        return out

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])

    def deliveries(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT coalesce(sum(n), 0) FROM deliveries").fetchone()[0])

    def keys(self) -> set[str]:
        with self._connect() as db:
            return {k for (k,) in db.execute("SELECT key FROM readings")}
