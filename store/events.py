"""The event store: events, their lifecycle transitions, dispatch orders and audit records."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from domain.lifecycle import (
    WAITING_FOR_DISPATCH,
    Action,
    IllegalTransition,
    Status,
    Transition,
    apply,
)
from domain.models import DispatchOrder, Event, EventCreate
from domain.vocabulary import Level, StoreRules, Urgency
from store.alarms import AlarmStore
from store.approvals import Approvals
from store.db import Database, connect
from store.errors import Conflict, NotFound
from store.queries import EventQueries
from store.schema import cell_of, migrate

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "source",
    "external_id",
    "title",
    "text",
    "reported_at",
    "address",
    "lat",
    "lon",
    "reporter_name",
    "reporter_phone",
    "attributes",
    "status",
    "street",
    "district",
    "subtype",
    "category",
    "urgency",
    "supervised",
    "duplicate_of",
    "satisfaction",
    "version",
    "created_at",
    "updated_at",
    "cell",
)


TIMESTAMPS = (
    "reported_at",
    "created_at",
    "updated_at",
    "closed_at",
    "dispatched_at",
    "accepted_at",
    "due_at",
    "due_soon_at",
    "resolved_at",
)


class EventStore(EventQueries):
    """One interface over SQLite and PostgreSQL. Time always comes in as an argument."""

    def __init__(self, db: Database, rules: StoreRules | None = None) -> None:
        self.db = db
        #: drafts waiting for an officer's decision
        self.approvals = Approvals(db)
        #: perception: readings, alarms, device status
        self.alarms = AlarmStore(db)
        rules = rules or StoreRules()
        self.return_reasons = rules.return_reasons
        self.due_soon_fraction = rules.due_soon_fraction

    @classmethod
    def open(cls, url: str, rules: StoreRules | None = None, *, pool_size: int = 8) -> EventStore:
        """Connect (PostgreSQL: a pool of at most ``pool_size`` connections), apply pending
        migrations, and enforce the given rules (return codes, the due-soon share; without
        them any return code is accepted)."""
        store = cls(connect(url, pool_size=pool_size), rules)
        try:
            migrate(store.db)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    # -- events -------------------------------------------------------------------------

    def _event_row(self, e: EventCreate, now: datetime) -> list[Any]:
        db = self.db
        return [
            e.source.value,
            e.external_id,
            e.title,
            e.text,
            db.ts(e.reported_at),
            e.address,
            e.lat,
            e.lon,
            e.reporter_name,
            e.reporter_phone,
            db.json(e.attributes),
            Status.RECEIVED.value,
            None,
            None,
            None,
            None,
            Urgency.NORMAL.value,
            0,
            None,
            None,
            1,
            db.ts(now),
            db.ts(now),
            cell_of(e.lat, e.lon),
        ]

    def add_event(
        self, event: EventCreate, *, now: datetime, actor: str = "system"
    ) -> tuple[Event, bool]:
        """Store an event once. Same (source, external_id) again returns the stored one.

        Returns the event and whether it was created now."""
        if event.external_id:
            existing = self.find_by_external_id(event.source.value, event.external_id)
            if existing is not None:
                return existing, False
        cols = ", ".join(EVENT_COLUMNS)
        marks = ", ".join("?" * len(EVENT_COLUMNS))
        with self.db.transaction():
            try:
                with (
                    self.db.transaction()
                ):  # a savepoint on PostgreSQL: a failed insert is undone alone
                    event_id = self.db.insert(
                        f"INSERT INTO events ({cols}) VALUES ({marks})", self._event_row(event, now)
                    )
            except Exception as exc:  # a concurrent insert of the same (source, external_id)
                if event.external_id and "unique" in str(exc).lower():
                    found = self.find_by_external_id(event.source.value, event.external_id)
                    if found is not None:
                        return found, False
                raise
            self._record(
                event_id,
                Transition(
                    action=Action.RECEIVE,
                    from_status=Status.RECEIVED,
                    to_status=Status.RECEIVED,
                    actor=actor,
                    at=now,
                ),
            )
        return self.get_event(event_id), True

    def add_events_bulk(
        self, events: Sequence[EventCreate], *, now: datetime, actor: str = "import"
    ) -> list[tuple[int, bool]]:
        """Store many events in one transaction, idempotently. Returns (id, created) per input,
        in order. Far faster than ``add_event`` one by one (one round trip per batch)."""
        if not events:
            return []
        db = self.db
        keyed = [(e.source.value, e.external_id) for e in events if e.external_id]
        with db.transaction():
            before = self._ids_by_key(keyed)
            fresh: list[EventCreate] = []
            seen = set(before)
            for e in events:
                if e.external_id:
                    key = (e.source.value, e.external_id)
                    if key in seen:
                        continue
                    seen.add(key)
                fresh.append(e)
            cols = ", ".join(EVENT_COLUMNS)
            marks = ", ".join("?" * len(EVENT_COLUMNS))
            # what this transaction stored, not what is there now: a concurrent import of
            # the same file may have stored some of these keys first
            inserted = db.insert_returning(
                f"INSERT INTO events ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                [self._event_row(e, now) for e in fresh],
                "id, source, external_id",
            )
            created = {
                (r["source"], r["external_id"]): int(r["id"]) for r in inserted if r["external_id"]
            }
            anonymous = [int(r["id"]) for r in inserted if not r["external_id"]]
            db.executemany(
                "INSERT INTO transitions (event_id, action, from_status, to_status, actor, at, reason, "
                "reason_code, payload) VALUES (?, ?, 'received', 'received', ?, ?, NULL, NULL, ?)",
                [
                    (i, Action.RECEIVE.value, actor, db.ts(now), db.json({}))
                    for i in [*created.values(), *anonymous]
                ],
            )
            stored_elsewhere = [k for k in keyed if k not in before and k not in created]
            ids = {**before, **self._ids_by_key(stored_elsewhere), **created}
        out: list[tuple[int, bool]] = []
        anon = iter(anonymous)
        claimed: set[tuple[str, str]] = set()
        for e in events:
            if e.external_id:
                key = (e.source.value, e.external_id)
                out.append((ids[key], key in created and key not in claimed))
                claimed.add(key)
            else:
                out.append((next(anon), True))
        return out

    def _ids_by_key(self, keys: Sequence[tuple[str, str | None]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for source, ext in keys:
            if ext:
                by_source.setdefault(source, []).append(ext)
        for source, exts in by_source.items():
            for i in range(0, len(exts), 500):
                chunk = exts[i : i + 500]
                rows = self.db.fetchall(
                    f"SELECT id, external_id FROM events WHERE source = ? AND external_id IN "
                    f"({', '.join('?' * len(chunk))})",
                    [source, *chunk],
                )
                found.update({(source, r["external_id"]): int(r["id"]) for r in rows})
        return found

    def find_by_external_id(self, source: str, external_id: str) -> Event | None:
        row = self.db.fetchone(
            "SELECT * FROM events WHERE source = ? AND external_id = ?", (source, external_id)
        )
        return self._event(row) if row else None

    def get_event(self, event_id: int) -> Event:
        row = self.db.fetchone("SELECT * FROM events WHERE id = ?", (event_id,))
        if row is None:
            raise NotFound(f"事件 {event_id} 不存在 (no event {event_id})")
        return self._event(row)

    def get_events(self, ids: list[int]) -> list[Event]:
        """The events with these ids that exist, in the order given, in one query."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = self.db.fetchall(f"SELECT * FROM events WHERE id IN ({marks})", ids)
        found = {int(r["id"]): self._event(r) for r in rows}
        return [found[i] for i in ids if i in found]

    def _event(self, row: dict[str, Any]) -> Event:
        db = self.db
        data = dict(row)
        data.pop("cell", None)
        for key in TIMESTAMPS:
            data[key] = db.read_ts(data[key])
        data["attributes"] = db.read_json(data["attributes"]) or {}
        data["supervised"] = bool(data["supervised"])
        return Event.model_validate(data)

    def set_classification(
        self,
        event_id: int,
        *,
        street: str | None,
        district: str | None,
        subtype: str | None,
        category: str | None,
        urgency: Urgency,
        now: datetime,
    ) -> None:
        self.db.execute(
            "UPDATE events SET street = ?, district = ?, subtype = ?, category = ?, urgency = ?, "
            "updated_at = ? WHERE id = ?",
            (street, district, subtype, category, urgency.value, self.db.ts(now), event_id),
        )

    def count_events(self) -> int:
        row = self.db.fetchone("SELECT COUNT(*) AS n FROM events")
        return int(row["n"]) if row else 0

    # -- lifecycle ----------------------------------------------------------------------

    def transition(
        self,
        event_id: int,
        action: Action,
        *,
        actor: str,
        at: datetime,
        expected_version: int | None = None,
        reason: str | None = None,
        reason_code: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Event:
        """Apply a lifecycle action. With ``expected_version``, a concurrent change → Conflict."""
        with self.db.transaction():
            event = self.get_event(event_id)
            if expected_version is not None and event.version != expected_version:
                raise Conflict(
                    f"事件 {event_id} 已被他人修改（版本 {event.version}，"
                    f"您看到的是 {expected_version}），请刷新后重试。"
                )
            t = apply(
                event.status,
                action,
                actor=actor,
                at=at,
                reason=reason,
                reason_code=reason_code,
                payload=payload,
                return_reasons=self.return_reasons,
            )
            sets = ["status = ?", "version = version + 1", "updated_at = ?"]
            params: list[Any] = [t.to_status.value, self.db.ts(at)]
            if action is Action.SUPERVISE:
                sets.append("supervised = 1")
            if action is Action.VERIFY:
                sets.append("satisfaction = ?")
                params.append(t.payload["satisfaction"])
            if action is Action.MERGE_DUPLICATE and "duplicate_of" in t.payload:
                sets.append("duplicate_of = ?")
                params.append(int(t.payload["duplicate_of"]))
            if t.to_status is Status.CLOSED:
                sets.append("closed_at = ?")
                params.append(self.db.ts(at))
            cur = self.db.execute(
                f"UPDATE events SET {', '.join(sets)} WHERE id = ? AND version = ?",
                [*params, event_id, event.version],
            )
            if cur.rowcount != 1:
                raise Conflict(f"事件 {event_id} 已被他人修改，请刷新后重试。")
            self._record(event_id, t)
            self._order_side_effects(event_id, t)
            if t.to_status not in WAITING_FOR_DISPATCH:
                self.approvals.drop_pending(event_id)
        return self.get_event(event_id)

    def _record(self, event_id: int, t: Transition) -> None:
        db = self.db
        db.execute(
            "INSERT INTO transitions (event_id, action, from_status, to_status, actor, at, reason, "
            "reason_code, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                t.action.value,
                t.from_status.value,
                t.to_status.value,
                t.actor,
                db.ts(t.at),
                t.reason,
                t.reason_code,
                db.json(t.payload),
            ),
        )

    def _order_side_effects(self, event_id: int, t: Transition) -> None:
        """Keep the current order, and the event's summary columns, in step with the lifecycle.

        The summary columns (lead department, signing time, deadline, resolution time, number
        of returns) let stats, overdue lists and scoped searches read one table."""
        db = self.db
        at = db.ts(t.at)
        if t.action is Action.RESOLVE_DIRECTLY:
            db.execute("UPDATE events SET resolved_at = ? WHERE id = ?", (at, event_id))
            return
        order = self.current_order_row(event_id)
        if order is None:
            if t.action in (Action.DISPATCH, Action.REDISPATCH, Action.ACCEPT):
                raise IllegalTransition(
                    t.from_status,
                    t.action,
                    f"事件 {event_id} 还没有派单，不能{t.action.zh}。"
                    f" (no dispatch order to {t.action.value})",
                )
            return
        oid = order["id"]
        if t.action in (Action.DISPATCH, Action.REDISPATCH):
            db.execute(
                "UPDATE orders SET status = 'dispatched', dispatched_at = ? WHERE id = ?", (at, oid)
            )
            db.execute(
                "UPDATE events SET lead_department = ?, dispatched_at = ?, accepted_at = NULL, "
                "due_at = NULL, due_soon_at = NULL WHERE id = ?",
                (order["lead_department"], at, event_id),
            )
        elif t.action is Action.ACCEPT:
            due, soon = self._deadlines(t.at, order["disposal_hours"], order["extension_hours"])
            db.execute(
                "UPDATE orders SET status = 'accepted', accepted_at = ?, due_at = ? WHERE id = ?",
                (at, db.ts(due), oid),
            )
            db.execute(
                "UPDATE events SET accepted_at = ?, due_at = ?, due_soon_at = ? WHERE id = ?",
                (at, db.ts(due), db.ts(soon), event_id),
            )
        elif t.action is Action.RETURN:
            db.execute(
                "UPDATE orders SET status = 'returned', closed_at = ?, return_reason_code = ? WHERE id = ?",
                (at, t.reason_code, oid),
            )
            db.execute("UPDATE events SET returns = returns + 1 WHERE id = ?", (event_id,))
        elif t.action is Action.APPROVE_EXTENSION:
            ext = order["extension_hours"] + float(t.payload.get("hours", 0))
            accepted_at = db.read_ts(order["accepted_at"])
            if accepted_at is None:
                return
            due, soon = self._deadlines(accepted_at, order["disposal_hours"], ext)
            db.execute(
                "UPDATE orders SET extension_hours = ?, due_at = ? WHERE id = ?",
                (ext, db.ts(due), oid),
            )
            db.execute(
                "UPDATE events SET due_at = ?, due_soon_at = ? WHERE id = ?",
                (db.ts(due), db.ts(soon), event_id),
            )
        elif t.action is Action.RESOLVE:
            db.execute(
                "UPDATE orders SET status = 'resolved', closed_at = ? WHERE id = ?", (at, oid)
            )
            db.execute("UPDATE events SET resolved_at = ? WHERE id = ?", (at, event_id))
        elif t.action is Action.REOPEN:
            db.execute(
                "UPDATE orders SET status = 'accepted', closed_at = NULL WHERE id = ?", (oid,)
            )
            db.execute("UPDATE events SET resolved_at = NULL WHERE id = ?", (event_id,))

    def _deadlines(
        self, accepted: datetime, disposal_h: float, extension_h: float
    ) -> tuple[datetime, datetime]:
        """Disposal deadline and the moment it becomes "due soon" (clock starts at 签收)."""
        total = disposal_h + extension_h
        due = accepted + timedelta(hours=total)
        return due, due - timedelta(hours=total * self.due_soon_fraction)

    def history(self, event_id: int) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT * FROM transitions WHERE event_id = ? ORDER BY id", (event_id,)
        )
        for r in rows:
            r["at"] = self.db.read_ts(r["at"])
            r["payload"] = self.db.read_json(r["payload"])
        return rows

    # -- orders -------------------------------------------------------------------------

    def add_order(self, order: DispatchOrder, *, now: datetime, status: str = "draft") -> int:
        """Store a dispatch order; an earlier open order of the event is superseded."""
        db = self.db
        with db.transaction():
            db.execute(
                "UPDATE orders SET status = 'superseded' WHERE event_id = ? AND status = 'draft'",
                (order.event_id,),
            )
            return db.insert(
                "INSERT INTO orders (event_id, status, lead_department, assisting_departments, level, "
                "urgency, response_hours, disposal_hours, extension_hours, legal_basis, duty_basis, "
                "escalation_rules, steps, explanation, engine, confidence, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.event_id,
                    status,
                    order.lead_department,
                    db.json(order.assisting_departments),
                    order.level.value,
                    order.urgency.value,
                    order.response_hours,
                    order.disposal_hours,
                    order.extension_hours,
                    db.json([c.model_dump() for c in order.legal_basis]),
                    db.json(order.duty_basis),
                    db.json(order.escalation_rules),
                    db.json(order.steps),
                    order.explanation,
                    order.engine,
                    order.confidence,
                    db.ts(now),
                ),
            )

    def dispatch_order(
        self,
        event: Event,
        order: DispatchOrder,
        *,
        officer: str,
        triaged_by: str,
        now: datetime,
        decision: str,
    ) -> None:
        """An approved draft, in one transaction: a received event is triaged first (by
        ``triaged_by``, at the version the caller read), the order is stored, and the event is
        dispatched (redispatched after a return) by the officer."""
        with self.db.transaction():
            if event.status is Status.RECEIVED:
                self.transition(
                    event.id,
                    Action.TRIAGE,
                    actor=triaged_by,
                    at=now,
                    reason="智能分拨",
                    expected_version=event.version,
                )
            self.add_order(order, now=now)
            self.transition(
                event.id,
                Action.REDISPATCH if event.status is Status.RETURNED else Action.DISPATCH,
                actor=officer,
                at=now,
                payload={"lead": order.lead_department, "decision": decision},
            )

    def current_order_row(self, event_id: int) -> dict[str, Any] | None:
        return self.db.fetchone(
            "SELECT * FROM orders WHERE event_id = ? AND status <> 'superseded' ORDER BY id DESC LIMIT 1",
            (event_id,),
        )

    def filed_by(self, event_id: int) -> str | None:
        """Who stored the event (the actor of its receive record)."""
        row = self.db.fetchone(
            "SELECT actor FROM transitions WHERE event_id = ? AND action = 'receive' "
            "ORDER BY id LIMIT 1",
            (event_id,),
        )
        return str(row["actor"]) if row else None

    def returns_of(self, event_id: int) -> list[dict[str, Any]]:
        """Each return (退单) of the event: the department that returned it, the reason code
        and the reason given, oldest first."""
        orders = self.db.fetchall(
            "SELECT lead_department FROM orders WHERE event_id = ? AND status = 'returned' "
            "ORDER BY id",
            (event_id,),
        )
        moves = self.db.fetchall(
            "SELECT actor, reason, reason_code FROM transitions WHERE event_id = ? "
            "AND action = 'return' ORDER BY id",
            (event_id,),
        )
        return [
            {"department": o["lead_department"], **m} for o, m in zip(orders, moves, strict=False)
        ]

    def orders(self, event_id: int) -> list[DispatchOrder]:
        rows = self.db.fetchall("SELECT * FROM orders WHERE event_id = ? ORDER BY id", (event_id,))
        return [self._order(r) for r in rows]

    def _order(self, row: dict[str, Any]) -> DispatchOrder:
        db = self.db
        return DispatchOrder(
            event_id=row["event_id"],
            lead_department=row["lead_department"],
            assisting_departments=db.read_json(row["assisting_departments"]),
            level=Level(row["level"]),
            urgency=Urgency(row["urgency"]),
            response_hours=row["response_hours"],
            disposal_hours=row["disposal_hours"],
            extension_hours=row["extension_hours"],
            legal_basis=db.read_json(row["legal_basis"]),
            duty_basis=db.read_json(row["duty_basis"]),
            escalation_rules=db.read_json(row["escalation_rules"]),
            steps=db.read_json(row["steps"]),
            explanation=row["explanation"],
            engine=row["engine"],
            confidence=row["confidence"],
            accepted_at=db.read_ts(row["accepted_at"]),
        )

    # -- audit: AI decisions and officer feedback ----------------------------------------

    def record_decision(
        self,
        *,
        event_id: int | None,
        run_id: str,
        agent: str,
        engine: str,
        inputs: dict[str, Any],
        output: dict[str, Any],
        now: datetime,
        model: str | None = None,
        prompt_name: str | None = None,
        prompt_version: str | None = None,
        confidence: float | None = None,
        latency_ms: float | None = None,
        fallbacks: list[str] | None = None,
        llm_calls: int | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> int:
        """The audit record of one AI decision: inputs, engine, model, prompt, output, and the
        model calls and tokens it took. ``event_id`` is None for a decision about no single
        event (a chat turn); ``run_id`` then finds it."""
        db = self.db
        return db.insert(
            "INSERT INTO ai_decisions (event_id, run_id, agent, engine, model, prompt_name, "
            "prompt_version, inputs, output, confidence, latency_ms, fallbacks, created_at, "
            "llm_calls, prompt_tokens, completion_tokens) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                run_id,
                agent,
                engine,
                model,
                prompt_name,
                prompt_version,
                db.json(inputs),
                db.json(output),
                confidence,
                latency_ms,
                db.json(fallbacks or []),
                db.ts(now),
                llm_calls,
                prompt_tokens,
                completion_tokens,
            ),
        )

    def decisions(self, event_id: int) -> list[dict[str, Any]]:
        return self._decisions("event_id", event_id)

    def run_decisions(self, run_id: str) -> list[dict[str, Any]]:
        """The decisions of one run, in order: a triage run, or a chat conversation's turns."""
        return self._decisions("run_id", run_id)

    def _decisions(self, column: str, value: object) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            f"SELECT * FROM ai_decisions WHERE {column} = ? ORDER BY id",  # a fixed column name
            (value,),
        )
        for r in rows:
            for key in ("inputs", "output", "fallbacks"):
                r[key] = self.db.read_json(r[key])
            r["created_at"] = self.db.read_ts(r["created_at"])
        return rows

    def add_feedback(
        self,
        *,
        event_id: int,
        officer: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        order_id: int | None = None,
    ) -> int:
        """An officer's feedback on an AI suggestion (e.g. the corrected department)."""
        db = self.db
        return db.insert(
            "INSERT INTO feedback (event_id, order_id, officer, kind, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (event_id, order_id, officer, kind, db.json(payload), db.ts(now)),
        )

    def feedback(self, event_id: int) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT * FROM feedback WHERE event_id = ? ORDER BY id", (event_id,)
        )
        for r in rows:
            r["payload"] = self.db.read_json(r["payload"])
            r["created_at"] = self.db.read_ts(r["created_at"])
        return rows
