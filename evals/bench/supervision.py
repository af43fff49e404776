"""How long the automatic supervision sweep takes over a demo store, the first time (every
overdue order's steps raised) and again (nothing new: the timer's usual case).

    python -m evals.bench.supervision --events 5000 [--url sqlite:///PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime

from agents.oversight import sweep_overdue
from demo.load import load_demo
from knowledge import default_knowledge
from store import EventStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--url", default=None, help="a fresh database (default: a temporary SQLite)"
    )
    args = parser.parse_args()
    k = default_knowledge()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/supervision.db"
    store = EventStore.open(url, k.store_rules)
    now = datetime.now(UTC)
    load_demo(store, k, seed=3, now=now, count=args.events)
    started = time.perf_counter()
    first = sweep_overdue(store, k, now)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = sweep_overdue(store, k, now)
    again_s = time.perf_counter() - started
    store.close()
    print(
        f"{args.events} demo events on {url.split(':', 1)[0]}: the first sweep raised "
        f"{len(first)} steps in {first_s:.2f} s; the next raised {len(again)} in {again_s:.2f} s"
    )


if __name__ == "__main__":
    main()
