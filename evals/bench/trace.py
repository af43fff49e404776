"""Upstream tracing against planted pollution: for every registered source of the river
network (or the ones named) and several seeds, generate the day (``demo.episodes``) with a
day of history before it, and report the rank of the planted source in the trace of the first
alarm (the first station to alarm, nearest the source) and of the last one (the station
furthest down the river: a longer way up, more candidates on it).

Two ways to get the alarms:
- default: the tracer alone; the alarm is the first station breaking a plain class III rule
  (溶解氧 < 5 mg/L, 浊度 > 60 NTU for a site, three readings in a row), the last one the most
  downstream station whose readings show the plume;
- ``--pipeline``: the readings go through ``Perception.ingest`` (the shipped alarm rules, a
  fresh SQLite store per episode) and the ranks are read from the traces filed with the
  alarm-born events, as officers would see them.

With ``--decoys`` a station the plume never reaches fouls its oxygen probe for an hour near
the discharge (only oxygen moves): its own alarm is another incident and is not scored, but it
must not lead the plume's trace astray.

    python -m evals.bench.trace --seeds 10
    python -m evals.bench.trace --seeds 3 --pipeline
    python -m evals.bench.trace --seeds 10 --decoys    # a fouled probe off the plume's way
    python -m evals.bench.trace --sources qj-s09 qj-s16 --seeds 10 --verbose
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agents.perception import Perception
from demo.episodes import PollutionEpisode, first_alarm, pollution_episode
from domain.clock import CHINA_TZ
from knowledge import Knowledge, load_knowledge
from store import EventStore
from tools.signals import detect_onset
from tools.tracing import TraceQuery, trace_upstream

DAY = datetime(2026, 6, 1, tzinfo=CHINA_TZ)
#: hours of readings before the day: stations report all the time, so a trace early in the
#: day finds upstream stations' readings of the night before
HISTORY = 24


@dataclass
class Row:
    source: str
    kind: str
    seed: int
    alarm: str | None = None  # the first station to alarm
    rank_alarm: int | None = None
    last: str | None = None  # the last station down the river that alarmed (or saw it)
    rank_last: int | None = None


def episode(k: Knowledge, source: str, seed: int, decoy: bool = False) -> PollutionEpisode:
    rng = random.Random(f"{source}:{seed}")
    starts = DAY + timedelta(hours=rng.uniform(1.0, 9.0))
    fouled = None
    if decoy:  # a station the plume never reaches fouls its oxygen probe near the discharge
        plume_at = {d for d, n in k.rivers.stations.items() if k.rivers.path(source, n)}
        others = sorted(set(k.rivers.stations) - plume_at)
        if others:
            fouled = (rng.choice(others), starts + timedelta(hours=rng.uniform(-2.0, 4.0)))
    return pollution_episode(
        k,
        source=source,
        day=DAY - timedelta(hours=HISTORY),
        span_hours=24 + HISTORY,
        starts_at=starts,
        hours=rng.uniform(3.0, 8.0),
        strength=rng.uniform(0.8, 1.3),
        seed=seed,
        decoy=fouled,
    )


#: seconds each trace_upstream call took (the tracer alone)
TIMES: list[float] = []


def _rank(k: Knowledge, ep: PollutionEpisode, station: str, onset: datetime) -> int | None:
    started = time.perf_counter()
    answer = trace_upstream(
        k, TraceQuery(station=station, metric=ep.alarm_metric, onset=onset), ep.readings
    )
    TIMES.append(time.perf_counter() - started)
    return next((c.rank for c in answer.candidates if c.node == ep.source), None)


def _last_seen(k: Knowledge, ep: PollutionEpisode) -> tuple[str, datetime] | None:
    """The station furthest down the river whose readings show the plume."""
    seen = []
    for device in ep.arrivals:
        onset = detect_onset([r for r in ep.readings if r.device_id == device], ep.alarm_metric)
        if onset is not None:
            hours = k.rivers.travel_hours(ep.source, k.rivers.stations[device]) or 0.0
            seen.append((hours, device, onset))
    if not seen:
        return None
    _, device, onset = max(seen)
    return device, onset


def tracer_only(k: Knowledge, ep: PollutionEpisode, row: Row) -> None:
    alarm = first_alarm(ep, plume_only=True)
    if alarm is not None:
        row.alarm, row.rank_alarm = alarm[0], _rank(k, ep, *alarm)
    last = _last_seen(k, ep)
    if last is not None:
        row.last, row.rank_last = last[0], _rank(k, ep, *last)


def through_pipeline(k: Knowledge, ep: PollutionEpisode, row: Row, folder: Path) -> None:
    store = EventStore.open(f"sqlite:///{folder / f'{row.source}-{row.seed}.db'}", k.store_rules)
    try:
        clock = {"now": ep.readings[0].observed_at}
        perception = Perception(store, k, None, clock=lambda: clock["now"])
        for i in range(0, len(ep.readings), 500):
            batch = ep.readings[i : i + 500]
            clock["now"] = batch[-1].observed_at
            perception.ingest(batch)
        traced = []
        for alarm in reversed(store.alarms.list_alarms(limit=1000)):  # oldest first
            if alarm["event_id"] is None:
                continue
            trace = store.get_event(int(alarm["event_id"])).attributes.get("trace")
            if (
                isinstance(trace, dict)
                and trace["station"] == alarm["device_id"]
                and alarm["device_id"] in ep.arrivals  # a decoy's alarm is another incident
            ):
                rank = next(
                    (c["rank"] for c in trace["candidates"] if c["node"] == ep.source), None
                )
                hours = k.rivers.travel_hours(ep.source, k.rivers.stations[alarm["device_id"]])
                traced.append((alarm["device_id"], rank, hours or 0.0))
        if traced:
            row.alarm, row.rank_alarm, _ = traced[0]
            row.last, row.rank_last, _ = max(traced, key=lambda t: t[2])
    finally:
        store.close()


def run(
    k: Knowledge, sources: list[str], seeds: int, pipeline: bool, decoy: bool = False
) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            for seed in range(seeds):
                ep = episode(k, source, seed, decoy)
                row = Row(source=source, kind=ep.kind, seed=seed)
                if pipeline:
                    through_pipeline(k, ep, row, Path(tmp))
                else:
                    tracer_only(k, ep, row)
                rows.append(row)
    return rows


def _share(rows: list[Row], attr: str, best: int = 1) -> str:
    ranks = [getattr(r, attr) for r in rows]
    return f"{sum(x is not None and x <= best for x in ranks)}/{len(ranks)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", nargs="*", help="source node ids (default: every source)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pipeline", action="store_true", help="alarms from Perception.ingest")
    parser.add_argument(
        "--decoys", action="store_true", help="a station off the plume's way fouls its probe"
    )
    parser.add_argument("--verbose", action="store_true", help="one line per episode")
    args = parser.parse_args(argv)
    k = load_knowledge()
    sources = args.sources or [n.id for n in k.rivers.nodes.values() if n.is_source]
    rows = run(k, sources, args.seeds, args.pipeline, args.decoys)
    if args.verbose:
        for r in rows:
            print(r)
    print(
        f"command: python -m evals.bench.trace {' '.join(sys.argv[1:] if argv is None else argv)}"
    )
    print(f"{'source':8} {'kind':13} {'alarmed':>8} {'rank1@first':>11} {'rank1@last':>10}")
    for source in sources:
        mine = [r for r in rows if r.source == source]
        alarmed = [r for r in mine if r.alarm]
        seen = [r for r in mine if r.last]
        print(
            f"{source:8} {mine[0].kind:13} {len(alarmed):>4}/{len(mine):<3} "
            f"{_share(alarmed, 'rank_alarm'):>11} {_share(seen, 'rank_last'):>10}"
        )
    alarmed = [r for r in rows if r.alarm]
    seen = [r for r in rows if r.last]
    print(
        f"total: {len(rows)} episodes, {len(alarmed)} alarmed; planted source at rank 1 from the "
        f"first alarm {_share(alarmed, 'rank_alarm')}, in the top 3 "
        f"{_share(alarmed, 'rank_alarm', 3)}; from the last station "
        f"{_share(seen, 'rank_last')}"
    )
    if TIMES:
        ordered = sorted(TIMES)
        print(
            f"trace_upstream (7 stations, {24 + HISTORY} h of readings every 5 min): "
            f"median {1000 * ordered[len(ordered) // 2]:.1f} ms, "
            f"max {1000 * ordered[-1]:.1f} ms ({len(TIMES)} calls)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
