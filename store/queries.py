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


def scope_sql(scope: Scope) -> tuple[str, list[Any]]:
    if scope.everything:
        return "1 = 1", []
    if scope.empty:
        return "1 = 0", []
    parts, params = [], []
    if scope.districts:
        parts.append(f"district IN ({', '.join('?' * len(scope.districts))})")
        params += list(scope.districts)
    if scope.streets:
        parts.append(f"street IN ({', '.join('?' * len(scope.streets))})")
        params += list(scope.streets)
    return "(" + " OR ".join(parts) + ")", params


class Where:
    """Accumulates AND-ed conditions with their parameters."""

    def __init__(self, scope: Scope) -> None:
        sql, params = scope_sql(scope)
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
    "returns, accepted_at, due_at, resolved_at"
)
STATS_COLUMNS = (
    "id, status, source, street, district, subtype, category, lead_department, reported_at, "
    "accepted_at, due_at, resolved_at, returns, satisfaction, duplicate_of"
)


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

    def stats_rows(
        self,
        scope: Scope,
        *,
        since: datetime,
        until: datetime,
        districts: Sequence[str] = (),
        streets: Sequence[str] = (),
        categories: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
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
        rows = db.fetchall(f"SELECT {STATS_COLUMNS} FROM events WHERE {w.sql}", w.params)
        return [self._read(r) for r in rows]

    def overdue(self, scope: Scope, *, as_of: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Open orders past their disposal deadline, the earliest due first."""
        db, w = self.db, Where(scope)
        w.add(OPEN_CLOCK_SQL)
        w.add("due_at < ?", db.ts(as_of))
        rows = db.fetchall(
            f"SELECT {SUMMARY_COLUMNS} FROM events WHERE {w.sql} ORDER BY due_at, id LIMIT ?",
            [*w.params, limit],
        )
        return [self._read(r) for r in rows]

    def due_soon(self, scope: Scope, *, as_of: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Open orders not yet overdue whose remaining time is below the due-soon share."""
        db, w = self.db, Where(scope)
        w.add(OPEN_CLOCK_SQL)
        w.add("due_at >= ?", db.ts(as_of))
        w.add("due_soon_at <= ?", db.ts(as_of))
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
        box: tuple[float, float, float, float] | None = None,
        exclude_id: int | None = None,
        limit: int = 2000,
    ) -> list[dict[str, Any]]:
        """Candidate events for duplicate detection: same time window, same street(s) or box."""
        db, w = self.db, Where(scope)
        w.add("reported_at >= ?", db.ts(since))
        w.add("reported_at <= ?", db.ts(until))
        if streets:
            w.any_of("street", streets)
        if box:
            w.add("lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?", *box)
        if exclude_id is not None:
            w.add("id <> ?", exclude_id)
        rows = db.fetchall(
            f"SELECT {SUMMARY_COLUMNS} FROM events WHERE {w.sql} ORDER BY reported_at DESC LIMIT ?",
            [*w.params, limit],
        )
        return [self._read(r) for r in rows]

    def _read(self, row: dict[str, Any]) -> dict[str, Any]:
        for key in ("reported_at", "accepted_at", "due_at", "resolved_at"):
            if key in row:
                row[key] = self.db.read_ts(row[key])
        if "supervised" in row:
            row["supervised"] = bool(row["supervised"])
        return row
