"""Drafts awaiting an officer's decision: which checkpointer thread holds an event's waiting
triage run. A decision first claims the row, so two officers never resume one run twice; a
draft is only recorded for an event still waiting for dispatch, and the event's row lock
orders it with the lifecycle (which drops waiting drafts when the event moves on)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.lifecycle import WAITING_FOR_DISPATCH, Status
from store.db import Database
from store.errors import Conflict, NotFound


class Approvals:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, event_id: int, thread_id: str, *, by: str, now: datetime) -> int:
        """Record a waiting run; an earlier waiting run of the event is superseded. Conflict
        when the event no longer waits for dispatch or an officer is deciding on its draft."""
        with self.db.transaction():
            event = self.db.fetchone(
                f"SELECT status FROM events WHERE id = ?{self.db.for_update}", (event_id,)
            )
            if event is None:
                raise NotFound(f"事件 {event_id} 不存在 (no event {event_id})")
            status = Status(event["status"])
            if status not in WAITING_FOR_DISPATCH:
                raise Conflict(
                    f"事件 {event_id} 已由他人处理，当前状态为「{status.zh}」，新起草的派单草稿作废，请刷新后查看。"
                )
            deciding = self.db.fetchone(
                "SELECT decided_by FROM approvals WHERE event_id = ? AND status = 'deciding'",
                (event_id,),
            )
            if deciding is not None:
                raise Conflict(
                    f"事件 {event_id} 的派单草稿正由 {deciding['decided_by']} 审核处理，请稍后刷新后查看。"
                )
            self.db.execute(
                "UPDATE approvals SET status = 'superseded' WHERE event_id = ? AND status = 'pending'",
                (event_id,),
            )
            return self.db.insert(
                "INSERT INTO approvals (event_id, thread_id, status, created_by, created_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                (event_id, thread_id, by, self.db.ts(now)),
            )

    def pending(self, event_id: int) -> dict[str, Any] | None:
        """The event's waiting run (``created_at`` as a datetime), or None."""
        row = self.db.fetchone(
            "SELECT * FROM approvals WHERE event_id = ? AND status = 'pending' "
            "ORDER BY id DESC LIMIT 1",
            (event_id,),
        )
        if row is not None:
            row["created_at"] = self.db.read_ts(row["created_at"])
        return row

    def latest(self, event_id: int) -> dict[str, Any] | None:
        """The event's most recent draft, whatever became of it, or None if it never had one."""
        return self.db.fetchone(
            "SELECT * FROM approvals WHERE event_id = ? ORDER BY id DESC LIMIT 1", (event_id,)
        )

    def drop_pending(self, event_id: int) -> None:
        """The event moved on without a decision: its waiting draft can no longer be applied."""
        self.db.execute(
            "UPDATE approvals SET status = 'superseded' WHERE event_id = ? AND status = 'pending'",
            (event_id,),
        )

    def claim(self, approval_id: int, *, by: str, now: datetime) -> None:
        """Take the decision on a waiting run; Conflict when someone else took it first."""
        cur = self.db.execute(
            "UPDATE approvals SET status = 'deciding', decided_by = ?, decided_at = ? "
            "WHERE id = ? AND status = 'pending'",
            (by, self.db.ts(now), approval_id),
        )
        if cur.rowcount != 1:
            raise Conflict("该派单草稿已由他人处理或已被新的草稿取代，请刷新后查看。")

    def release(self, approval_id: int) -> None:
        """The decision could not be applied (invalid input): the run waits again."""
        self.db.execute(
            "UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL "
            "WHERE id = ? AND status = 'deciding'",
            (approval_id,),
        )

    def finish(self, approval_id: int, outcome: str) -> None:
        self.db.execute(
            "UPDATE approvals SET status = 'done', outcome = ? WHERE id = ?",
            (outcome, approval_id),
        )
