"""The API load script end to end with a tiny load, on SQLite and PostgreSQL: the real server in
a subprocess, no errors, no lost events, a report with all four scenarios."""

from __future__ import annotations

import json
from pathlib import Path

from evals import load_api


def test_tiny_load_loses_nothing(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "load"
    argv = ["--url", store_url, "--out", str(out)]
    argv += ["--concurrency", "20", "--requests", "120", "--events", "100", "--timeout", "60"]

    assert load_api.main(argv) == 0

    backend = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    result = json.loads((out / f"load-{backend}.json").read_text(encoding="utf-8"))
    assert result["backend"] == backend
    assert set(result["scenarios"]) == {"draft", "list", "file", "refile"}
    for name, m in result["scenarios"].items():
        assert m["requests"] > 0, name
        assert m["errors"] == 0, (name, m["first_errors"])
        assert 0 < m["p50_ms"] <= m["p95_ms"] <= m["p99_ms"], (name, m)
    assert result["overall"]["requests"] == 120
    assert result["overall"]["errors"] == 0
    check = result["lost_events_check"]
    assert check["ok"], check
    assert check["lost"] == 0
    assert (
        check["acknowledged_201"] == check["in_database"] == result["scenarios"]["file"]["requests"]
    )
    assert check["refiles"] == result["scenarios"]["refile"]["requests"]
    assert check["refiles_not_first_id"] == 0
    assert not [p for p in out.iterdir() if p.name.startswith("data-")]  # the data folder is gone
