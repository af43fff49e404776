"""How long a period review takes: the facts (``tools.period.period_review``) and the PDF and
XLSX, over demo events (a month of the city and the demo's review week of 綦江区). A report,
not a check: the figures depend on the machine and its load.

    python -m evals.bench.period [--url sqlite:///data/bench-period.db] [--events 640] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from agents.review_period import template_narrative
from demo.load import load_demo
from demo.period_week import PERIOD_DISTRICT, last_full_week
from domain.models import Scope
from knowledge import default_knowledge
from store import EventStore
from tools.period import period_review
from tools.period_export import to_pdf, to_xlsx
from tools.periods import PeriodQuery

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _ms(runs: list[float]) -> str:
    return f"{statistics.median(runs) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--events", type=int, default=640)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    k = default_knowledge()
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore.open(args.url or f"sqlite:///{Path(tmp) / 's.db'}", k.store_rules)
        load_demo(store, k, seed=11, now=NOW, count=args.events, period_week=PERIOD_DISTRICT)
        year, week, _ = last_full_week(NOW).isocalendar()
        month = f"{NOW.year}-{NOW.month - 1:02d}"
        for label, q in (
            (
                f"綦江区 {year}-W{week:02d}",
                PeriodQuery(jurisdiction=PERIOD_DISTRICT, week=f"{year}-W{week:02d}"),
            ),
            (f"全市 {month}", PeriodQuery(month=month)),
        ):
            facts, pdf, xlsx = [], [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                r = period_review(store, k, Scope(everything=True), q, now=NOW)
                facts.append(time.perf_counter() - started)
                narrative = template_narrative(r)
                started = time.perf_counter()
                size_pdf = len(to_pdf(r, narrative))
                pdf.append(time.perf_counter() - started)
                started = time.perf_counter()
                size_xlsx = len(to_xlsx(r, narrative))
                xlsx.append(time.perf_counter() - started)
            print(
                f"{label}: {r.count} events; facts {_ms(facts)}, "
                f"PDF {_ms(pdf)} ({size_pdf // 1024} KB), XLSX {_ms(xlsx)} ({size_xlsx // 1024} KB) "
                f"(medians of {args.runs})"
            )
        store.close()


if __name__ == "__main__":
    main()
