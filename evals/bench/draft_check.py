"""Drafts before and after a change, compared field by field: the golden dispatch set and a
few hundred generated events drafted without storing them (one by one, and as a batch), and
generated events stored and drafted through the draft graph (with the decisions it records).
Timings (``latency_ms`` in traces and decision records) are left out; everything else must
be identical.

    python -m evals.bench.draft_check dump before.jsonl --workdir /tmp/bench
    python -m evals.bench.draft_check compare before.jsonl after.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.dispatch import draft_view
from agents.graph import build_triage_graph
from agents.state import TriageContext
from demo.generator import generate_events
from domain.models import EventCreate, Source
from evals.bench.setup import NOW, open_bench

GOLDEN = Path(__file__).resolve().parents[1] / "datasets" / "golden-dispatch.jsonl"
#: fields that measure time, not behaviour
TIMING = frozenset({"latency_ms"})


def _golden_events() -> list[EventCreate]:
    events = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        source = str(row.get("source") or "")
        events.append(
            EventCreate(
                source=Source(source) if source in Source._value2member_map_ else Source.HOTLINE,
                text=row["text"],
                title=row.get("title"),
                address=row.get("address"),
                lat=row.get("lat"),
                lon=row.get("lon"),
                reported_at=NOW,
            )
        )
    return events


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def dump(out: Path, workdir: Path, generated: int, stored: int) -> int:
    bench = open_bench(workdir)
    d, k = bench.dispatcher, bench.knowledge
    rows: list[dict[str, Any]] = []
    golden = _golden_events()
    fresh = [e.create for e in generate_events(k, seed=78, now=NOW, count=generated)]
    for name, events in (("golden", golden), ("generated", fresh)):
        for n, event in enumerate(events):
            rows.append({"case": f"{name}/{n}", "draft": d.draft(event, "offline")})
        if hasattr(d, "draft_many"):  # the batch path must give the same drafts
            for n, result in enumerate(d.draft_many(events, "offline")):
                rows.append({"case": f"{name}-batch/{n}", "draft": result.get("draft", result)})
    graph = build_triage_graph(bench.deps, draft_only=True)
    store = bench.deps.store
    for n, demo in enumerate(generate_events(k, seed=79, now=NOW, count=stored)):
        create = demo.create.model_copy(update={"external_id": f"check-{n}"})
        event_id = store.add_event(create, now=NOW)[0].id
        state = graph.invoke({"event_id": event_id}, context=TriageContext())
        decisions = store.decisions(event_id) if hasattr(store, "decisions") else []
        rows.append(
            {
                "case": f"stored/{n}",
                "draft": draft_view(state, k),
                "event": store.get_event(event_id).model_dump(mode="json"),
                "decisions": decisions,
            }
        )
    bench.close()
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(_untimed(row), ensure_ascii=False, sort_keys=True, default=str))
            f.write("\n")
    return len(rows)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}")
    elif isinstance(value, list):
        yield f"{path}#len", len(value)
        for n, item in enumerate(value):
            yield from _leaves(item, f"{path}[{n}]")
    else:
        yield path, value


def compare(a: Path, b: Path) -> int:
    """Print every field that differs; the number of cases that differ."""
    before = {r["case"]: r for r in map(json.loads, a.read_text(encoding="utf-8").splitlines())}
    after = {r["case"]: r for r in map(json.loads, b.read_text(encoding="utf-8").splitlines())}
    differing = 0
    fields = 0
    for case in sorted(set(before) | set(after)):
        if case not in before or case not in after:
            print(f"{case}: only in {'after' if case in after else 'before'}")
            differing += 1
            continue
        old, new = dict(_leaves(before[case])), dict(_leaves(after[case]))
        fields += len(old)
        diffs = [p for p in sorted(set(old) | set(new)) if old.get(p) != new.get(p)]
        if diffs:
            differing += 1
            for p in diffs[:5]:
                print(f"{case}{p}: {old.get(p)!r} -> {new.get(p)!r}")
    print(
        f"{len(before)} cases before, {len(after)} after, {fields} fields compared, {differing} differ"
    )
    return differing


def main() -> None:
    parser = argparse.ArgumentParser(description="drafts before and after, field by field")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--workdir", type=Path, default=None)
    d.add_argument("--generated", type=int, default=300)
    d.add_argument("--stored", type=int, default=100)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        sys.exit(1 if compare(args.before, args.after) else 0)
    if args.workdir is None:
        with tempfile.TemporaryDirectory() as tmp:
            print(dump(args.out, Path(tmp), args.generated, args.stored), "cases")
    else:
        print(dump(args.out, args.workdir, args.generated, args.stored), "cases")


if __name__ == "__main__":
    main()
