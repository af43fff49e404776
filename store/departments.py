"""What departments add to an order: who each dispatched order addresses, attachments (photos
and documents of progress and completion), the owning centre's rulings on returns, and the
supervision steps raised automatically on overdue orders (one per order and step)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from store.db import Database

ATTACHMENT_META = (
    "id, event_id, order_id, department, uploaded_by, filename, media_type, size, sha256, "
    "note, created_at"
)


class Attachments:
    """Files attached to an event; the bytes live in the database beside the record."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        event_id: int,
        *,
        content: bytes,
        filename: str,
        media_type: str,
        uploaded_by: str,
        now: datetime,
        order_id: int | None = None,
        department: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        db = self.db
        new_id = db.insert(
            "INSERT INTO attachments (event_id, order_id, department, uploaded_by, filename, "
            "media_type, size, sha256, content, note, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                order_id,
                department,
                uploaded_by,
                filename,
                media_type,
                len(content),
                hashlib.sha256(content).hexdigest(),
                content,
                note,
                db.ts(now),
            ),
        )
        meta = self.meta(new_id)
        assert meta is not None
        return meta

    def meta(self, attachment_id: int) -> dict[str, Any] | None:
        row = self.db.fetchone(
            f"SELECT {ATTACHMENT_META} FROM attachments WHERE id = ?", (attachment_id,)
        )
        return self._read(row) if row else None

    def of_event(self, event_id: int) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            f"SELECT {ATTACHMENT_META} FROM attachments WHERE event_id = ? ORDER BY id",
            (event_id,),
        )
        return [self._read(r) for r in rows]

    def content(self, attachment_id: int) -> bytes | None:
        row = self.db.fetchone("SELECT content FROM attachments WHERE id = ?", (attachment_id,))
        return bytes(row["content"]) if row else None

    def _read(self, row: dict[str, Any]) -> dict[str, Any]:
        row["created_at"] = self.db.read_ts(row["created_at"])
        return row


class Oversight:
    """The owning centre's rulings on returns, and the automatic supervision steps."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_adjudication(
        self,
        *,
        event_id: int,
        order_id: int,
        decision: str,
        returned_department: str,
        corrected_department: str | None,
        reason_code: str | None,
        note: str | None,
        officer: str,
        owner_level: str,
        escalated_to: str | None,
        now: datetime,
    ) -> int:
        db = self.db
        return db.insert(
            "INSERT INTO adjudications (event_id, order_id, decision, returned_department, "
            "corrected_department, reason_code, note, officer, owner_level, escalated_to, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                order_id,
                decision,
                returned_department,
                corrected_department,
                reason_code,
                note,
                officer,
                owner_level,
                escalated_to,
                db.ts(now),
            ),
        )

    def adjudications(self, event_id: int) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT * FROM adjudications WHERE event_id = ? ORDER BY id", (event_id,)
        )
        for r in rows:
            r["created_at"] = self.db.read_ts(r["created_at"])
        return rows

    def claim_step(self, *, order_id: int, step: str, event_id: int, at: datetime) -> bool:
        """Record that ``step`` was raised on the order; False when it already was."""
        cur = self.db.execute(
            "INSERT INTO supervisions (order_id, step, event_id, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (order_id, step, event_id, self.db.ts(at)),
        )
        return bool(cur.rowcount == 1)

    def claimed(self, order_ids: list[int]) -> set[tuple[int, str]]:
        """The (order id, step) pairs already raised among these orders."""
        if not order_ids:
            return set()
        marks = ", ".join("?" * len(order_ids))
        rows = self.db.fetchall(
            f"SELECT order_id, step FROM supervisions WHERE order_id IN ({marks})", order_ids
        )
        return {(int(r["order_id"]), str(r["step"])) for r in rows}

    def steps_of(self, event_id: int) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT * FROM supervisions WHERE event_id = ? ORDER BY at, step", (event_id,)
        )
        for r in rows:
            r["at"] = self.db.read_ts(r["at"])
        return rows
