"""Read queries over the event store: scoped search, stats rows, deadlines, duplicate candidates.

Every query takes the caller's ``Scope`` and adds it to its WHERE clause; nothing outside the
scope is ever read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.models import Event, Scope
from store.db import Database
from store.schema import OPEN_CLOCK_SQL


def scope_sql(scope: Scope, prefix: str = "") -> tuple[str, list[Any]]:
    """The scope as a condition; ``prefix`` qualifies the columns (``"e."`` in a join)."""
    if scope.everything:
        return "1 = 1", []
    if scope.empty:
        return "1 = 0", []
    parts, params = [], []
    if scope.districts:
        parts.append(f"{prefix}district IN ({', '.join('?' * len(scope.districts))})")
        params += list(scope.districts)
    if scope.streets:
        parts.append(f"{prefix}street IN ({', '.join('?' * len(scope.streets))})")
        params += list(scope.streets)
    if scope.department:  # a department sees the events its dispatched orders address
        parts.append("id IN (SELECT event_id FROM order_departments WHERE department = ?)")
        params.append(scope.department)
    return "(" + " OR ".join(parts) + ")", params


class Where:
    """Accumulates AND-ed conditions with their parameters."""

    def __init__(self, scope: Scope, prefix: str = "") -> None:
        sql, params = scope_sql(scope, prefix)
        self.parts = [sql]
        self.params: list[Any] = params

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def any_of(self, column: str, values: Sequence[Any]) -> None:
        self.add(f"{column} IN ({', '.join('?' * len(values))})", *values)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


SUMMARY_COLUMNS = (
    "id, source, external_id, title, text, reported_at, address, lat, lon, status, street, "
    "district, subtype, category, urgency, supervised, duplicate_of, satisfaction, lead_department, "
    "returns, accepted_at, due_at, due_soon_at, resolved_at"
)
GROUP_COLUMNS = ("category", "subtype", "lead_department", "district", "street", "source")
OPEN_SQL = (
    "('received', 'triaged', 'dispatched', 'accepted', 'returned', 'in_progress', "
    "'extension_requested')"
)
#: the local (Beijing) calendar day of reported_at
DAY_SQL = {
    "sqlite": "date(reported_at, '+8 hours')",
    "postgresql": "to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
}
HOURS_SQL = {
    "sqlite": "(julianday(resolved_at) - julianday(reported_at)) * 24",
    "postgresql": "EXTRACT(EPOCH FROM (resolved_at - reported_at)) / 3600.0",
}


class EventQueries:
    """Mixed into ``EventStore``."""

    db: Database

    def _event(self, row: dict[str, Any]) -> Event:
        raise NotImplementedError

    def search(
        self,
        scope: Scope,
        *,
        districts: Sequence[str] = (),
        streets: Sequence[str] = (),
        categories: Sequence[str] = (),
        subtypes: Sequence[str] = (),
        statuses: Sequence[str] = (),
        sources: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        supervised: bool | None = None,
        limit: int = 20,
        offset: int = 0,
        count: bool = True,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Rows newest first, and the total matching (when ``count``)."""
        db, w = self.db, Where(scope)
        for column, values in (
            ("district", districts),
            ("street", streets),
            ("category", categories),
            ("subtype", subtypes),
            ("status", statuses),
            ("source", sources),
        ):
            if values:
                w.any_of(column, values)
        if since:
            w.add("reported_at >= ?", db.ts(since))
        if until:
            w.add("reported_at < ?", db.ts(until))
        if supervised is not None:
            w.add("supervised = ?", 1 if supervised else 0)
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            w.add(
                "(text LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')",
                like,
                like,
                like,
            )
        rows = db.fetchall(
            f"SELECT {SUMMARY_COLUMNS} FROM events WHERE {w.sql} "
            "ORDER BY reported_at DESC, id DESC LIMIT ? OFFSET ?",
            [*w.params, limit, offset],
        )
        total = None
        if count:
            found = db.fetchone(f"SELECT COUNT(*) AS n FROM events WHERE {w.sql}", w.params)
            total = int(found["n"]) if found else 0
        return [self._read(r) for r in rows], total

    def stats_groups(
        self,
        scope: Scope,
        *,
        since: datetime,
        until: datetime,
        group: str = "none",
        districts: Sequence[str] = (),
        streets: Sequence[str] = (),
        categories: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Aggregates per group, computed in the database, plus each group's hours to close.

        ``group`` is none, day, or one of the columns in GROUP_COLUMNS."""
        db, w = self.db, Where(scope)
        for column, values in (
            ("district", districts),
            ("street", streets),
            ("category", categories),
        ):
            if values:
                w.any_of(column, values)
        w.add("reported_at >= ?", db.ts(since))
        w.add("reported_at < ?", db.ts(until))
        if group == "none":
            key = "'all'"
        elif group == "day":
            key = DAY_SQL[db.dialect]
        elif group in GROUP_COLUMNS:
            key = f"COALESCE({group}, '-')"
        else:
            raise ValueError(f"unknown grouping {group!r}")
        rows = db.fetchall(
            f"SELECT {key} AS k, COUNT(*) AS n, "
            f"SUM(CASE WHEN status IN {OPEN_SQL} THEN 1 ELSE 0 END) AS open, "
            "SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS resolved, "
            "SUM(CASE WHEN resolved_at IS NOT NULL AND due_at IS NOT NULL THEN 1 ELSE 0 END) AS timed, "
            "SUM(CASE WHEN resolved_at IS NOT NULL AND due_at IS NOT NULL AND resolved_at <= due_at "
            "THEN 1 ELSE 0 END) AS on_time, "
            "SUM(CASE WHEN lead_department IS NOT NULL THEN 1 ELSE 0 END) AS dispatched, "
            "SUM(CASE WHEN lead_department IS NOT NULL AND returns > 0 THEN 1 ELSE 0 END) AS returned, "
            "SUM(satisfaction) AS sat_sum, COUNT(satisfaction) AS sat_n, "
            "SUM(CASE WHEN duplicate_of IS NOT NULL THEN 1 ELSE 0 END) AS duplicates "
            f"FROM events WHERE {w.sql}" + (f" GROUP BY {key}" if group != "none" else ""),
            w.params,
        )
        rows = [r for r in rows if r["n"]]  # no GROUP BY: one row even when nothing matched
        hours: dict[str, list[float]] = {}
        for r in db.fetchall(
            f"SELECT {key} AS k, {HOURS_SQL[db.dialect]} AS h FROM events "
            f"WHERE {w.sql} AND resolved_at IS NOT NULL",
            w.params,
        ):
            hours.setdefault(r["k"], []).append(float(r["h"]))
        for r in rows:
            r["hours"] = hours.get(r["k"], [])
        return rows

    def overdue(self, scope: Scope, *, as_of: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Open orders past their disposal deadline, the earliest due first."""
        return self._by_deadline(scope, ["due_at < ?"], as_of, limit)

    def due_soon(self, scope: Scope, *, as_of: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Open orders not yet overdue whose remaining time is below the due-soon share."""
        return self._by_deadline(scope, ["due_at >= ?", "due_soon_at <= ?"], as_of, limit)

    def _by_deadline(
        self, scope: Scope, conditions: list[str], as_of: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Open orders on the clock meeting ``conditions`` (each compares with ``as_of``),
        the earliest due first."""
        db, w = self.db, Where(scope)
        w.add(OPEN_CLOCK_SQL)
        for condition in conditions:
            w.add(condition, db.ts(as_of))
        rows = db.fetchall(
            f"SELECT {SUMMARY_COLUMNS} FROM events WHERE {w.sql} ORDER BY due_at, id LIMIT ?",
            [*w.params, limit],
        )
        return [self._read(r) for r in rows]

    def nearby(
        self,
        scope: Scope,
        *,
        since: datetime,
        until: datetime,
        streets: Sequence[str] = (),
        cells: Sequence[str] = (),
        exclude_id: int | None = None,
        limit: int = 3000,
    ) -> list[dict[str, Any]]:
        """Candidate events for duplicate detection: same time window, and the given spatial
        cells or streets (cells when the place is known by coordinates)."""
        db, w = self.db, Where(scope)
        w.add("reported_at >= ?", db.ts(since))
        w.add("reported_at <= ?", db.ts(until))
        if cells:
            w.any_of("cell", cells)
        elif streets:
            w.any_of("street", streets)
        if exclude_id is not None:
            w.add("id <> ?", exclude_id)
        rows = db.fetchall(
            f"SELECT id, title, text, lat, lon, reported_at, subtype FROM events WHERE {w.sql} "
            "ORDER BY reported_at DESC LIMIT ?",
            [*w.params, limit],
        )
        return [self._read(r) for r in rows]

    def summaries(self, scope: Scope, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Summary rows of the given events that lie in the scope, by id."""
        if not ids:
            return {}
        w = Where(scope)
        w.any_of("id", list(ids))
        rows = self.db.fetchall(f"SELECT {SUMMARY_COLUMNS} FROM events WHERE {w.sql}", w.params)
        return {r["id"]: self._read(r) for r in rows}

    def _read(self, row: dict[str, Any]) -> dict[str, Any]:
        for key in ("reported_at", "accepted_at", "due_at", "due_soon_at", "resolved_at"):
            if key in row:
                row[key] = self.db.read_ts(row[key])
        if "supervised" in row:
            row["supervised"] = bool(row["supervised"])
        return row

    def dispatched_orders(
        self,
        scope: Scope,
        *,
        since: datetime,
        until: datetime,
        districts: Sequence[str] = (),
        streets: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Every order sent to a department (dispatched, whatever became of it) for the events
        reported in [since, until) in the scope: event id, department, order status and the
        return reason code, oldest first (a period review's return rate by department)."""
        db, w = self.db, Where(scope, "e.")
        if districts:
            w.any_of("e.district", districts)
        if streets:
            w.any_of("e.street", streets)
        w.add("e.reported_at >= ?", db.ts(since))
        w.add("e.reported_at < ?", db.ts(until))
        w.add("o.dispatched_at IS NOT NULL")
        return db.fetchall(
            "SELECT o.event_id, o.lead_department, o.status, o.return_reason_code "
            f"FROM orders o JOIN events e ON e.id = o.event_id WHERE {w.sql} ORDER BY o.id",
            w.params,
        )
