"""The store benchmark runs end to end at a small scale (figures are reported, not asserted)."""

from evals.bench_store import run
from store import EventStore


def test_benchmark_runs_and_reports_every_figure(store_url: str) -> None:
    result = run(store_url, count=3000, ingest=400, runs=5)
    assert result["events_total"] == 3400
    assert result["ingest"]["events"] == 400 and result["ingest"]["events_per_s"] > 0
    for key in (
        "search_events",
        "event_stats_district_90d",
        "list_overdue_district",
        "find_duplicates",
    ):
        assert result[key]["runs"] >= 3 and result[key]["p95_ms"] >= result[key]["p50_ms"] > 0
    assert result["database_bytes"] > 0
    store = EventStore.open(store_url)
    rows = store.db.fetchall("SELECT status, COUNT(*) AS n FROM events GROUP BY status")
    store.close()
    assert {"closed", "in_progress"} <= {r["status"] for r in rows}
