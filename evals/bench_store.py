"""Benchmark of the event store and its tools at scale (default 1,000,000 events).

Rows are generated in bulk (not through the API) with realistic lifecycle states, then the
tools are timed as an officer would call them. Reports numbers; never fails on timing.

    python -m evals.bench_store --url sqlite:///data/bench.db --events 1000000 --out data/bench
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from demo.generator import Generator
from domain.lifecycle import Status
from domain.models import EventCreate, Scope, Source
from knowledge import Knowledge, default_knowledge
from store import EventStore
from store.events import EVENT_COLUMNS
from store.schema import cell_of
from tools.duplicates import DuplicateQuery, find_duplicates
from tools.events import EventQuery, OverdueQuery, list_overdue, search_events
from tools.scope import scope_for
from tools.stats import StatsQuery, event_stats

log = logging.getLogger(__name__)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SUMMARY = (
    "lead_department",
    "dispatched_at",
    "accepted_at",
    "due_at",
    "due_soon_at",
    "resolved_at",
    "returns",
    "closed_at",
)
COLUMNS = EVENT_COLUMNS + SUMMARY


def text_pool(k: Knowledge, n: int = 3000, seed: int = 1) -> list[tuple[str, str]]:
    """(subtype, text) pairs in the demo's style, reused across the generated rows."""
    gen = Generator(k, seed, NOW)
    out = []
    codes = sorted(k.subtypes)
    for i in range(n):
        st = k.subtype(codes[i % len(codes)])
        district, street = gen.street()
        spot, _ = gen.place(district, street)
        text, _ = gen.compose(
            st, Source.HOTLINE, spot, district, street, NOW, gen.rng.choice(st.examples)
        )
        out.append((st.code, text))
    return out


def rows(
    k: Knowledge, store: EventStore, count: int, seed: int, days: int = 365
) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    db = store.db
    pool = text_pool(k)
    streets = k.sample_streets()  # the streets with a centroid to scatter coordinates around
    for i in range(count):
        street = rng.choice(streets)
        subtype, text = rng.choice(pool)
        st = k.subtype(subtype)
        reported = NOW - timedelta(seconds=rng.uniform(0, days * 86400))
        age_h = (NOW - reported).total_seconds() / 3600
        disposal = st.sla_hours.disposal
        lead = f"{street.parent}.{st.lead.type}"
        accepted = reported + timedelta(hours=rng.uniform(0.2, 3))
        due = accepted + timedelta(hours=disposal)
        soon = due - timedelta(hours=0.2 * disposal)
        resolved = closed = None
        returns = 1 if rng.random() < 0.06 else 0
        satisfaction = None
        if age_h < 1:
            status, accepted_v, due_v, soon_v, lead_v = "received", None, None, None, None
        else:
            accepted_v, due_v, soon_v, lead_v = accepted, due, soon, lead
            took = disposal * (
                rng.uniform(0.1, 0.95) if rng.random() < 0.85 else rng.uniform(1.05, 2.0)
            )
            if rng.random() < 0.02 or accepted + timedelta(hours=took) > NOW:
                status = rng.choice(
                    ["accepted", "in_progress", "in_progress", "extension_requested"]
                )
            else:
                resolved = accepted + timedelta(hours=took)
                status = "closed" if resolved + timedelta(days=3) < NOW else "resolved"
                closed = resolved + timedelta(days=3) if status == "closed" else None
                satisfaction = rng.choices([5, 4, 3, 2, 1], weights=[50, 30, 10, 6, 4])[0]
        lat = (street.lat or 0.0) + rng.gauss(0, 0.004)
        lon = (street.lon or 0.0) + rng.gauss(0, 0.004)
        yield (
            "hotline",
            f"B{seed}-{i:08d}",
            None,
            text,
            db.ts(reported),
            None,
            round(lat, 6),
            round(lon, 6),
            None,
            None,
            db.json({}),
            status,
            street.code,
            street.parent,
            subtype,
            subtype[:2],
            st.urgency.value,
            0,
            None,
            satisfaction,
            1,
            db.ts(reported),
            db.ts(NOW),
            cell_of(round(lat, 6), round(lon, 6)),
            lead_v,
            db.ts(accepted_v and reported),
            db.ts(accepted_v),
            db.ts(due_v),
            db.ts(soon_v),
            db.ts(resolved),
            returns,
            db.ts(closed),
        )


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "runs": runs,
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
        "max_ms": round(samples[-1], 2),
    }


def database_size(store: EventStore, url: str) -> int:
    if store.db.dialect == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    row = store.db.fetchone("SELECT pg_database_size(current_database()) AS n")
    return int(row["n"]) if row else 0


def run(
    url: str, count: int, seed: int = 1, ingest: int = 20_000, runs: int = 100
) -> dict[str, Any]:
    """Load ``count`` events (if the database has fewer), then time each tool ``runs`` times
    (search twice as often, stats a third as often)."""
    k = default_knowledge()
    store = EventStore.open(url, k.store_rules)
    result: dict[str, Any] = {
        "backend": store.db.dialect,
        "events": count,
        "generated_as_of": NOW.isoformat(),
    }
    existing = store.count_events()
    t = time.perf_counter()
    if existing < count:
        loaded = store.db.bulk_load(
            "events", COLUMNS, rows(k, store, count - existing, seed + existing)
        )
        result["bulk_load"] = {"rows": loaded, "seconds": round(time.perf_counter() - t, 1)}
    # what autovacuum does in production; PostgreSQL needs it for index-only scans
    store.db.execute("VACUUM ANALYZE" if store.db.dialect == "postgresql" else "ANALYZE")

    # ingest through the public bulk API (idempotent, with audit rows)
    batch = [
        EventCreate(
            source=Source.GRID,
            external_id=f"ING{seed}-{existing}-{i}",
            text=text,
            reported_at=NOW,
            address=None,
        )
        for i, (_, text) in enumerate(text_pool(k, n=ingest, seed=seed + 7))
    ]
    t = time.perf_counter()
    for i in range(0, len(batch), 1000):
        store.add_events_bulk(batch[i : i + 1000], now=NOW)
    secs = time.perf_counter() - t
    result["ingest"] = {
        "events": len(batch),
        "seconds": round(secs, 2),
        "events_per_s": round(len(batch) / secs),
    }

    rng = random.Random(seed)
    districts = [d.code for d in k.districts()]
    streets = [s.code for s in k.sample_streets()]

    def search() -> None:
        scope = scope_for(k, [rng.choice(streets if rng.random() < 0.5 else districts)])
        search_events(
            store,
            k,
            scope,
            EventQuery(
                status=[Status(rng.choice(["in_progress", "closed", "accepted"]))],
                since=NOW - timedelta(days=30),
                limit=20,
            ),
        )

    def stats() -> None:
        scope = scope_for(k, [rng.choice(districts)])
        event_stats(
            store,
            k,
            scope,
            StatsQuery(since=NOW - timedelta(days=90), until=NOW, group_by="street"),
        )

    def overdue() -> None:
        scope = scope_for(k, [rng.choice(districts)])
        list_overdue(store, k, scope, OverdueQuery(as_of=NOW, limit=50))

    def duplicates() -> None:
        street = k.jurisdiction(rng.choice(streets))
        _, text = rng.choice(text_pool_cache)
        find_duplicates(
            store,
            k,
            Scope(everything=True),
            DuplicateQuery(
                text=text,
                reported_at=NOW - timedelta(days=rng.uniform(0, 300)),
                lat=(street.lat or 0.0) + rng.gauss(0, 0.003),
                lon=(street.lon or 0.0) + rng.gauss(0, 0.003),
            ),
        )

    text_pool_cache = text_pool(k, n=200, seed=seed + 3)
    result["search_events"] = timed(search, 2 * runs)
    result["event_stats_district_90d"] = timed(stats, max(3, runs // 3))
    result["list_overdue_district"] = timed(overdue, runs)
    result["find_duplicates"] = timed(duplicates, runs)
    result["database_bytes"] = database_size(store, url)
    result["events_total"] = store.count_events()
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="sqlite:///path or postgresql://…")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="write metrics.json here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = run(args.url, args.events)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"store-{result['backend']}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
