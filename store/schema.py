"""Schema migrations, applied in order on start and recorded in ``schema_migrations``.

Each migration is one SQL template for both dialects: {pk}, {ts}, {json} expand per dialect.
Never edit a released migration; add a new one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from store.db import Database

log = logging.getLogger(__name__)

#: size of the spatial cells used to find nearby events (degrees; about 550 m north-south)
CELL_DEG = 0.005

TYPES = {
    "sqlite": {
        "pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ts": "TEXT",
        "json": "TEXT",
        "cell": f"CAST(ROUND(lat / {CELL_DEG}) AS INTEGER) || ':' || CAST(ROUND(lon / {CELL_DEG}) AS INTEGER)",
    },
    "postgresql": {
        "pk": "BIGSERIAL PRIMARY KEY",
        "ts": "TIMESTAMPTZ",
        "json": "JSONB",
        "cell": f"ROUND(lat / {CELL_DEG})::int || ':' || ROUND(lon / {CELL_DEG})::int",
    },
}


def cell_of(lat: float | None, lon: float | None) -> str | None:
    """The spatial cell of a point, as the migration computes it in SQL."""
    if lat is None or lon is None:
        return None
    return f"{round(lat / CELL_DEG)}:{round(lon / CELL_DEG)}"


MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "events, transitions, orders, ai decisions, feedback",
        """
CREATE TABLE events (
    id {pk},
    source TEXT NOT NULL,
    external_id TEXT,
    title TEXT,
    text TEXT NOT NULL,
    reported_at {ts} NOT NULL,
    address TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    reporter_name TEXT,
    reporter_phone TEXT,
    attributes {json} NOT NULL,
    status TEXT NOT NULL,
    street TEXT,
    district TEXT,
    subtype TEXT,
    category TEXT,
    urgency TEXT NOT NULL,
    supervised INTEGER NOT NULL DEFAULT 0,
    duplicate_of BIGINT REFERENCES events(id),
    satisfaction INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    closed_at {ts}
);
CREATE UNIQUE INDEX events_source_external ON events (source, external_id);
CREATE INDEX events_street_status_time ON events (street, status, reported_at);
CREATE INDEX events_district_time ON events (district, reported_at);
CREATE INDEX events_status_time ON events (status, reported_at);
CREATE INDEX events_subtype_time ON events (subtype, reported_at);

CREATE TABLE transitions (
    id {pk},
    event_id BIGINT NOT NULL REFERENCES events(id),
    action TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    at {ts} NOT NULL,
    reason TEXT,
    reason_code TEXT,
    payload {json} NOT NULL
);
CREATE INDEX transitions_event ON transitions (event_id, id);

CREATE TABLE orders (
    id {pk},
    event_id BIGINT NOT NULL REFERENCES events(id),
    status TEXT NOT NULL,
    lead_department TEXT NOT NULL,
    assisting_departments {json} NOT NULL,
    level TEXT NOT NULL,
    urgency TEXT NOT NULL,
    response_hours DOUBLE PRECISION NOT NULL,
    disposal_hours DOUBLE PRECISION NOT NULL,
    extension_hours DOUBLE PRECISION NOT NULL DEFAULT 0,
    legal_basis {json} NOT NULL,
    duty_basis {json} NOT NULL,
    escalation_rules {json} NOT NULL,
    steps {json} NOT NULL,
    explanation TEXT NOT NULL,
    engine TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    created_at {ts} NOT NULL,
    dispatched_at {ts},
    accepted_at {ts},
    due_at {ts},
    closed_at {ts},
    return_reason_code TEXT
);
CREATE INDEX orders_event ON orders (event_id, id);
CREATE INDEX orders_status_due ON orders (status, due_at);
CREATE INDEX orders_lead_status ON orders (lead_department, status);

CREATE TABLE ai_decisions (
    id {pk},
    event_id BIGINT REFERENCES events(id),
    run_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    engine TEXT NOT NULL,
    model TEXT,
    prompt_name TEXT,
    prompt_version TEXT,
    inputs {json} NOT NULL,
    output {json} NOT NULL,
    confidence DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION,
    fallbacks {json} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX ai_decisions_event ON ai_decisions (event_id, id);

CREATE TABLE feedback (
    id {pk},
    event_id BIGINT NOT NULL REFERENCES events(id),
    order_id BIGINT REFERENCES orders(id),
    officer TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload {json} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX feedback_event ON feedback (event_id);
""",
    ),
    (
        2,
        "event summary columns for stats, deadlines and scoped queries",
        """
ALTER TABLE events ADD COLUMN lead_department TEXT;
ALTER TABLE events ADD COLUMN dispatched_at {ts};
ALTER TABLE events ADD COLUMN accepted_at {ts};
ALTER TABLE events ADD COLUMN due_at {ts};
ALTER TABLE events ADD COLUMN due_soon_at {ts};
ALTER TABLE events ADD COLUMN resolved_at {ts};
ALTER TABLE events ADD COLUMN returns INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_district_status_time ON events (district, status, reported_at);
CREATE INDEX events_time ON events (reported_at);
CREATE INDEX events_open_due ON events (due_at)
    WHERE status IN ('accepted', 'in_progress', 'extension_requested');
CREATE INDEX events_open_due_district ON events (district, due_at)
    WHERE status IN ('accepted', 'in_progress', 'extension_requested');
CREATE INDEX events_open_due_street ON events (street, due_at)
    WHERE status IN ('accepted', 'in_progress', 'extension_requested');
CREATE INDEX events_lead_time ON events (lead_department, reported_at);
""",
    ),
    (
        3,
        "spatial cells for nearby-event lookups",
        """
ALTER TABLE events ADD COLUMN cell TEXT;
UPDATE events SET cell = {cell} WHERE lat IS NOT NULL AND lon IS NOT NULL;
CREATE INDEX events_cell_time ON events (cell, reported_at);
CREATE INDEX events_street_time ON events (street, reported_at);
""",
    ),
    (
        4,
        "covering index for district statistics",
        """
DROP INDEX events_district_time;
CREATE INDEX events_district_stats ON events (district, reported_at, status, street, category, subtype,
    lead_department, source, resolved_at, due_at, returns, satisfaction, duplicate_of);
""",
    ),
    (
        5,
        "officers, their credentials, and drafts awaiting approval",
        """
CREATE TABLE users (
    id {pk},
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at {ts} NOT NULL
);
CREATE TABLE credentials (
    id {pk},
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    expires_at {ts},
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE approvals (
    id {pk},
    event_id INTEGER NOT NULL REFERENCES events (id),
    thread_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at {ts} NOT NULL,
    decided_by TEXT,
    decided_at {ts},
    outcome TEXT
);
CREATE INDEX approvals_event ON approvals (event_id, status);
CREATE INDEX approvals_pending ON approvals (status, created_at)
""",
    ),
    (
        6,
        "model calls and tokens of AI decisions; decisions by run (chat turns have no event)",
        """
ALTER TABLE ai_decisions ADD COLUMN llm_calls INTEGER;
ALTER TABLE ai_decisions ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE ai_decisions ADD COLUMN completion_tokens INTEGER;
CREATE INDEX ai_decisions_run ON ai_decisions (run_id, id)
""",
    ),
    (
        7,
        "perception: sensor readings (idempotent by device and key), rejected readings, alarms, device status",
        """
CREATE TABLE readings (
    id {pk},
    key TEXT NOT NULL,
    device_id TEXT NOT NULL,
    observed_at {ts} NOT NULL,
    metrics {json} NOT NULL,
    detection {json},
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    attributes {json} NOT NULL,
    received_at {ts} NOT NULL
);
CREATE UNIQUE INDEX readings_device_key ON readings (device_id, key);
CREATE INDEX readings_device_time ON readings (device_id, observed_at);
CREATE TABLE rejected_readings (
    id {pk},
    key TEXT NOT NULL,
    device_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    body {json} NOT NULL,
    received_at {ts} NOT NULL
);
CREATE UNIQUE INDEX rejected_readings_device_key ON rejected_readings (device_id, key);
CREATE TABLE alarms (
    id {pk},
    device_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    subtype TEXT NOT NULL,
    urgency TEXT NOT NULL,
    street TEXT,
    district TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    opened_at {ts} NOT NULL,
    last_at {ts} NOT NULL,
    cleared_at {ts},
    readings INTEGER NOT NULL DEFAULT 1,
    normal INTEGER NOT NULL DEFAULT 0,
    peak {json} NOT NULL,
    why TEXT NOT NULL,
    first_key TEXT,
    event_id BIGINT REFERENCES events(id)
);
CREATE INDEX alarms_open_device ON alarms (cleared_at, device_id);
CREATE INDEX alarms_device_time ON alarms (device_id, opened_at);
CREATE INDEX alarms_district_time ON alarms (district, opened_at);
CREATE INDEX alarms_event ON alarms (event_id);
CREATE TABLE device_status (
    device_id TEXT PRIMARY KEY,
    last_seen {ts},
    last_observed {ts},
    last_values {json} NOT NULL,
    readings BIGINT NOT NULL DEFAULT 0,
    updated_at {ts} NOT NULL
)
""",
    ),
]

#: lifecycle states in which an order's disposal clock is running (matches the partial indexes)
OPEN_CLOCK_SQL = "status IN ('accepted', 'in_progress', 'extension_requested')"


#: the PostgreSQL advisory lock held while migrating (any constant; "sanji" in ASCII)
MIGRATION_LOCK = 0x73616E6A69


def migrate(db: Database) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now.

    Processes starting together take turns: the whole check-and-apply runs in one transaction
    that first takes the migration lock (PostgreSQL: an advisory lock; SQLite: the write lock
    of ``BEGIN IMMEDIATE``), so a second process finds the work done instead of redoing it."""
    applied = []
    with db.transaction():
        if db.dialect == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {r["version"] for r in db.fetchall("SELECT version FROM schema_migrations")}
        for version, name, template in MIGRATIONS:
            if version in done:
                continue
            sql = template.format(**TYPES[db.dialect])
            for statement in filter(str.strip, sql.split(";")):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            log.info("applied migration %s: %s", version, name)
            applied.append(version)
    return applied


def schema_version(db: Database) -> int:
    row = db.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
    return int(row["v"]) if row and row["v"] is not None else 0
