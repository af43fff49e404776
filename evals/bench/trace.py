"""Upstream tracing against planted pollution: for every registered source of the river
network (or the ones named) and several seeds, generate the day (``demo.episodes``), take
the first station whose readings break the plain class III rule as the alarm, trace
upstream, and report the rank of the planted source. The same is reported from the most
downstream station that saw the plume (a longer way up, more candidates on it).

    python -m evals.bench.trace --seeds 5
    python -m evals.bench.trace --sources qj-s09 qj-s16 --seeds 10
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta

from demo.episodes import PollutionEpisode, first_alarm, pollution_episode
from domain.clock import CHINA_TZ
from knowledge import Knowledge, load_knowledge
from tools.tracing import TraceQuery, detect_onset, trace_upstream

DAY = datetime(2026, 6, 1, tzinfo=CHINA_TZ)
#: hours of readings before the day: stations report all the time, so a trace early in the
#: day finds upstream stations' readings of the night before
HISTORY = 24


def _rank(k: Knowledge, ep: PollutionEpisode, station: str, onset: datetime) -> int | None:
    answer = trace_upstream(
        k, TraceQuery(station=station, metric=ep.alarm_metric, onset=onset), ep.readings
    )
    return next((c.rank for c in answer.candidates if c.node == ep.source), None)


def _last_seen(k: Knowledge, ep: PollutionEpisode) -> tuple[str, datetime] | None:
    """The station furthest down the river whose readings show the plume."""
    seen = []
    for device in ep.arrivals:
        series = [r for r in ep.readings if r.device_id == device]
        onset = detect_onset(series, ep.alarm_metric)
        if onset is not None:
            seen.append(
                (k.rivers.travel_hours(ep.source, k.rivers.stations[device]) or 0, device, onset)
            )
    if not seen:
        return None
    _, device, onset = max(seen)
    return device, onset


def run(k: Knowledge, sources: list[str], seeds: int) -> list[dict[str, object]]:
    rows = []
    for source in sources:
        for seed in range(seeds):
            rng = random.Random(f"{source}:{seed}")
            starts = DAY + timedelta(hours=rng.uniform(1.0, 9.0))
            ep = pollution_episode(
                k,
                source=source,
                day=DAY - timedelta(hours=HISTORY),
                span_hours=24 + HISTORY,
                starts_at=starts,
                hours=rng.uniform(3.0, 8.0),
                strength=rng.uniform(0.8, 1.3),
                seed=seed,
            )
            alarm = first_alarm(ep)
            last = _last_seen(k, ep)
            rows.append(
                {
                    "source": source,
                    "kind": ep.kind,
                    "seed": seed,
                    "alarm": alarm[0] if alarm else None,
                    "rank_alarm": _rank(k, ep, *alarm) if alarm else None,
                    "last": last[0] if last else None,
                    "rank_last": _rank(k, ep, *last) if last else None,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="*", help="source node ids (default: every source)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="one line per episode")
    args = parser.parse_args(argv)
    k = load_knowledge()
    sources = args.sources or [n.id for n in k.rivers.nodes.values() if n.is_source]
    rows = run(k, sources, args.seeds)
    if args.verbose:
        for r in rows:
            print(r)
    print(f"command: python -m evals.bench.trace {' '.join(argv or sys.argv[1:])}".rstrip())
    print(f"{'source':8} {'kind':13} {'alarmed':>7} {'rank1@alarm':>11} {'rank1@last':>10}")
    for source in sources:
        mine = [r for r in rows if r["source"] == source]
        alarmed = [r for r in mine if r["alarm"]]
        seen = [r for r in mine if r["last"]]
        print(
            f"{source:8} {mine[0]['kind']!s:13} {len(alarmed):>3}/{len(mine):<3} "
            f"{sum(r['rank_alarm'] == 1 for r in alarmed):>5}/{len(alarmed):<5} "
            f"{sum(r['rank_last'] == 1 for r in seen):>4}/{len(seen):<5}"
        )
    alarmed = [r for r in rows if r["alarm"]]
    seen = [r for r in rows if r["last"]]
    print(
        f"total: {len(rows)} episodes, {len(alarmed)} alarmed; planted source at rank 1 from the "
        f"alarm station {sum(r['rank_alarm'] == 1 for r in alarmed)}/{len(alarmed)}, "
        f"in the top 3 {sum((r['rank_alarm'] or 99) <= 3 for r in alarmed)}/{len(alarmed)}; "
        f"from the last station that saw it {sum(r['rank_last'] == 1 for r in seen)}/{len(seen)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
