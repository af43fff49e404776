"""Benchmark of ``Perception.ingest``: readings per second through store → rules → alarms →
events in batches (one transaction each; drafting off, as the brokers' benchmark measures
drafts separately), batch latency, and the floors measured in the same run: the rules alone
in memory, and the bare insert of the same readings. Reports numbers; never fails on timing.

    python -m evals.bench.perception [--readings 20000] [--batch 500] [--database URL]

Without ``--database`` a temporary SQLite file is used. The readings cover every registered
device at its own interval (normal values, with a rain storm at the waterlogging sites and a
few muck trucks), so rules fire, alarms open, extend and clear, and events are opened."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.perception import Perception
from domain.alarms import Detection, Reading
from knowledge import Knowledge, default_knowledge
from store import EventStore
from tools.alarms import Sample, evaluate, trim

START = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
NORMAL = {
    "do_mg_l": (7.0, 0.6),
    "nh3n_mg_l": (0.5, 0.15),
    "cod_mg_l": (15, 3),
    "ph": (7.3, 0.2),
    "turbidity_ntu": (20, 5),
    "level_m": (0.02, 0.02),
    "rain_mm_h": (2, 2),
    "people": (4000, 500),
    "density_per_m2": (0.6, 0.15),
    "tilt_deg": (0.5, 0.3),
    "water_level_m": (0.4, 0.1),
    "ch4_pct_lel": (0.5, 0.3),
}


def readings(k: Knowledge, count: int, seed: int = 7) -> list[Reading]:
    """``count`` readings of the registered devices in time order, each at its interval."""
    rng = random.Random(seed)
    s = k.sensing
    devices = list(s.devices.values())
    clocks = {d.id: START + timedelta(seconds=rng.randrange(d.interval_s)) for d in devices}
    out: list[Reading] = []
    while len(out) < count:
        device = min(devices, key=lambda d: clocks[d.id])
        at = clocks[device.id]
        clocks[device.id] = at + timedelta(seconds=device.interval_s)
        kind = s.kinds[device.kind]
        storm = 6 <= at.hour < 8  # a rain storm in the morning
        metrics: dict[str, float] = {}
        for m in kind.metrics:
            mean, sd = NORMAL[m.code]
            value = max(0.0, rng.gauss(mean, sd))
            if storm and m.code == "rain_mm_h":
                value = rng.uniform(30, 70)
            if storm and m.code == "level_m":
                value = rng.uniform(0.1, 0.5)
            metrics[m.code] = round(value, 3)
        detection = None
        if kind.labels and rng.random() < 0.02:
            detection = Detection(label="muck_truck", confidence=round(rng.uniform(0.8, 0.99), 2))
        out.append(
            Reading(
                message_id=f"bench-{device.id}-{len(out)}",
                device_id=device.id,
                observed_at=at,
                metrics=metrics,
                detection=detection,
                attributes={} if (metrics or detection) else {"heartbeat": True},
            )
        )
    return out


def rules_floor(k: Knowledge, batch: list[Reading]) -> float:
    """Seconds for the rule evaluation alone (windows in memory, no alarms kept)."""
    s = k.sensing
    windows: dict[str, list[Sample]] = {}
    started = time.perf_counter()
    for r in batch:
        device = s.devices[r.device_id]
        rules = s.rules_for(device)
        w = windows.setdefault(device.id, [])
        w.append(
            Sample(
                r.observed_at,
                r.metrics,
                r.detection.label if r.detection else None,
                r.detection.confidence if r.detection else None,
            )
        )
        trim(w, rules)
        evaluate(s.kinds[device.kind], rules, w, {}, r.observed_at)
    return time.perf_counter() - started


def insert_floor(store: EventStore, batches: list[list[Reading]]) -> float:
    """Seconds for inserting the same readings bare (one transaction per batch)."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for batch in batches:
        with store.db.transaction():
            store.alarms.add_readings(
                [
                    {
                        "key": "floor-" + r.key,
                        "device_id": r.device_id,
                        "observed_at": r.observed_at,
                        "metrics": r.metrics,
                        "detection": None,
                        "attributes": {},
                    }
                    for r in batch
                ],
                now=now,
            )
    return time.perf_counter() - started


def run(url: str, count: int, size: int) -> dict[str, Any]:
    k = default_knowledge()
    data = readings(k, count)
    batches = [data[i : i + size] for i in range(0, len(data), size)]
    store = EventStore.open(url, k.store_rules)
    try:
        clock = {"now": data[-1].observed_at}
        perception = Perception(store, k, None, clock=lambda: clock["now"], draft=False)
        latencies = []
        started = time.perf_counter()
        for batch in batches:
            t = time.perf_counter()
            perception.ingest(batch)
            latencies.append(time.perf_counter() - t)
        total = time.perf_counter() - started
        again = time.perf_counter()
        perception.ingest(batches[0])  # a redelivered batch: all duplicates
        redelivery = time.perf_counter() - again
        alarms = store.alarms.list_alarms(limit=100_000)
        events = store.count_events()
        floor_rules = rules_floor(k, data)
        floor_insert = insert_floor(store, batches)
    finally:
        store.close()
    latencies.sort()
    return {
        "backend": url.split(":", 1)[0],
        "readings": len(data),
        "batch": size,
        "devices": len(k.sensing.devices),
        "readings_per_s": round(len(data) / total),
        "batch_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "batch_ms_p95": round(latencies[round(0.95 * (len(latencies) - 1))] * 1000, 1),
        "redelivered_batch_ms": round(redelivery * 1000, 1),
        "alarms": len(alarms),
        "events": events,
        "floor_rules_only_per_s": round(len(data) / floor_rules),
        "floor_insert_only_per_s": round(len(data) / floor_insert),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database", help="sqlite:///… or postgresql://… (default: temp SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        print(json.dumps(run(url, args.readings, args.batch), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
