"""Perception's tables: readings (idempotent by key), rejected readings (nothing is lost),
alarms (opened, extended, cleared, linked to their event) and each device's status.

Every write here runs inside the caller's transaction (one per ingested batch); the methods
take rows already decided by the rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from store.db import Database
from store.errors import NotFound

ALARM_COLUMNS = (
    "device_id",
    "rule_id",
    "subtype",
    "urgency",
    "street",
    "district",
    "lat",
    "lon",
    "opened_at",
    "last_at",
    "readings",
    "normal",
    "peak",
    "why",
    "first_key",
    "event_id",
)


class AlarmStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- readings ---------------------------------------------------------------------------

    def add_readings(
        self, rows: Sequence[dict[str, Any]], *, now: datetime
    ) -> set[tuple[str, str]]:
        """Store readings whose (device, key) is new; return the (device, key) pairs stored
        now (one stored before, by this process or another, is left as it was). Keys are
        unique per device: two devices that both number their messages from 1 lose nothing."""
        if not rows:
            return set()
        db = self.db
        inserted = db.insert_returning(
            "INSERT INTO readings (key, device_id, observed_at, metrics, detection, lat, lon, "
            "attributes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (device_id, key) DO NOTHING",
            [
                (
                    r["key"],
                    r["device_id"],
                    db.ts(r["observed_at"]),
                    db.json(r["metrics"]),
                    db.json(r["detection"]) if r.get("detection") is not None else None,
                    r.get("lat"),
                    r.get("lon"),
                    db.json(r.get("attributes") or {}),
                    db.ts(now),
                )
                for r in rows
            ],
            "device_id, key",
        )
        return {(str(r["device_id"]), str(r["key"])) for r in inserted}

    def reject(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
        """Keep readings that were refused, with the reason, so nothing sent is lost."""
        if not rows:
            return
        db = self.db
        db.executemany(
            "INSERT INTO rejected_readings (key, device_id, reason, body, received_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, key) DO NOTHING",
            [
                (r["key"], r.get("device_id"), r["reason"], db.json(r["body"]), db.ts(now))
                for r in rows
            ],
        )

    def rejected(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT * FROM rejected_readings ORDER BY id DESC LIMIT ?", (limit,)
        )
        for r in rows:
            r["body"] = self.db.read_json(r["body"])
            r["received_at"] = self.db.read_ts(r["received_at"])
        return rows

    def recent_readings(
        self, device_id: str, *, since: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """A device's readings since ``since`` (at most the newest ``limit``), oldest first."""
        rows = self.db.fetchall(
            "SELECT key, observed_at, metrics, detection FROM readings WHERE device_id = ? "
            "AND observed_at >= ? ORDER BY observed_at DESC, id DESC LIMIT ?",
            (device_id, self.db.ts(since), limit),
        )
        for r in rows:
            r["observed_at"] = self.db.read_ts(r["observed_at"])
            r["metrics"] = self.db.read_json(r["metrics"]) or {}
            r["detection"] = self.db.read_json(r["detection"])
        rows.reverse()
        return rows

    def count_readings(self) -> int:
        row = self.db.fetchone("SELECT COUNT(*) AS n FROM readings")
        return int(row["n"]) if row else 0

    # -- alarms -----------------------------------------------------------------------------

    def open_alarm(self, values: dict[str, Any]) -> int:
        db = self.db
        row = {**values}
        row["opened_at"] = db.ts(row["opened_at"])
        row["last_at"] = db.ts(row["last_at"])
        row["peak"] = db.json(row["peak"])
        return db.insert(
            f"INSERT INTO alarms ({', '.join(ALARM_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ALARM_COLUMNS))})",
            [row.get(c) for c in ALARM_COLUMNS],
        )

    def update_alarms(self, rows: Sequence[dict[str, Any]]) -> None:
        """Extend or clear alarms: ``{id, last_at, readings, normal, peak, cleared_at}``."""
        if not rows:
            return
        db = self.db
        db.executemany(
            "UPDATE alarms SET last_at = ?, readings = ?, normal = ?, peak = ?, cleared_at = ?, "
            "event_id = ? WHERE id = ?",
            [
                (
                    db.ts(r["last_at"]),
                    r["readings"],
                    r["normal"],
                    db.json(r["peak"]),
                    db.ts(r.get("cleared_at")),
                    r.get("event_id"),
                    r["id"],
                )
                for r in rows
            ],
        )

    def open_alarms(self) -> list[dict[str, Any]]:
        return self._alarms(
            self.db.fetchall("SELECT * FROM alarms WHERE cleared_at IS NULL ORDER BY id")
        )

    def open_alarm_of(self, device_id: str, rule_id: str) -> dict[str, Any] | None:
        """The open alarm of a device under a rule (another process may have opened it)."""
        rows = self.db.fetchall(
            "SELECT * FROM alarms WHERE device_id = ? AND rule_id = ? AND cleared_at IS NULL "
            "ORDER BY id DESC LIMIT 1",
            (device_id, rule_id),
        )
        return self._alarms(rows)[0] if rows else None

    def get_alarm(self, alarm_id: int) -> dict[str, Any]:
        row = self.db.fetchone("SELECT * FROM alarms WHERE id = ?", (alarm_id,))
        if row is None:
            raise NotFound(f"告警 {alarm_id} 不存在 (no alarm {alarm_id})")
        return self._alarms([row])[0]

    def list_alarms(
        self,
        *,
        open_only: bool = False,
        device_id: str | None = None,
        districts: Sequence[str] | None = None,
        streets: Sequence[str] | None = None,
        event_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Alarms newest first. ``districts``/``streets`` (when either is given) keep alarms
        in one of them: the caller's scope."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if open_only:
            where.append("cleared_at IS NULL")
        if device_id:
            where.append("device_id = ?")
            params.append(device_id)
        if event_id is not None:
            where.append("event_id = ?")
            params.append(event_id)
        if districts is not None or streets is not None:
            places = []
            if districts:
                places.append(f"district IN ({', '.join('?' * len(districts))})")
                params.extend(districts)
            if streets:
                places.append(f"street IN ({', '.join('?' * len(streets))})")
                params.extend(streets)
            where.append(f"({' OR '.join(places) or '1 = 0'})")
        rows = self.db.fetchall(
            f"SELECT * FROM alarms WHERE {' AND '.join(where)} ORDER BY opened_at DESC, id DESC "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._alarms(rows)

    def _alarms(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in rows:
            for key in ("opened_at", "last_at", "cleared_at"):
                r[key] = self.db.read_ts(r[key])
            r["peak"] = self.db.read_json(r["peak"]) or {}
        return rows

    def readings_between(
        self, device_id: str, since: datetime, until: datetime, limit: int = 500
    ) -> list[dict[str, Any]]:
        """A device's readings in a time span, oldest first (an alarm's chart)."""
        rows = self.db.fetchall(
            "SELECT key, observed_at, metrics, detection FROM readings WHERE device_id = ? "
            "AND observed_at >= ? AND observed_at <= ? ORDER BY observed_at LIMIT ?",
            (device_id, self.db.ts(since), self.db.ts(until), limit),
        )
        for r in rows:
            r["observed_at"] = self.db.read_ts(r["observed_at"])
            r["metrics"] = self.db.read_json(r["metrics"]) or {}
            r["detection"] = self.db.read_json(r["detection"])
        return rows

    # -- device status ----------------------------------------------------------------------

    def save_status(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
        """Each device's last reading: ``{device_id, last_seen, last_observed, last_values,
        readings}`` (``readings``: how many arrived now, added to the count)."""
        if not rows:
            return
        db = self.db
        db.executemany(
            "INSERT INTO device_status (device_id, last_seen, last_observed, last_values, "
            "readings, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE "
            "SET last_seen = excluded.last_seen, last_observed = excluded.last_observed, "
            "last_values = excluded.last_values, readings = device_status.readings + "
            "excluded.readings, updated_at = excluded.updated_at",
            [
                (
                    r["device_id"],
                    db.ts(r["last_seen"]),
                    db.ts(r["last_observed"]),
                    db.json(r["last_values"]),
                    r["readings"],
                    db.ts(now),
                )
                for r in rows
            ],
        )

    def statuses(self) -> dict[str, dict[str, Any]]:
        rows = self.db.fetchall("SELECT * FROM device_status")
        out = {}
        for r in rows:
            for key in ("last_seen", "last_observed", "updated_at"):
                r[key] = self.db.read_ts(r[key])
            r["last_values"] = self.db.read_json(r["last_values"]) or {}
            out[str(r["device_id"])] = r
        return out
