"""The fuzz pass end to end with a tiny budget on SQLite: the real server in a subprocess,
schemathesis against its schema for two operations, a report with zero 5xx and no failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import fuzz_api


@pytest.mark.skipif(
    not fuzz_api.FUZZ_VENV_TOOL.exists(),
    reason="schemathesis's venv is missing: make test builds it (make .venv-fuzz/bin/schemathesis)",
)
def test_a_tiny_fuzz_pass_reports_no_server_error(prepared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "fuzz"
    argv = ["--store", "sqlite", "--out", str(out), "--prepared", str(prepared_data)]
    argv += ["--seconds", "30", "--max-examples", "3", "--events", "10", "--callers", "officer"]
    argv += [
        "--phases",
        "fuzzing",
        "--include-path-regex",
        r"^/api/v1/(auth/me|events/\{event_id\})$",
    ]

    assert fuzz_api.main(argv) == 0

    result = json.loads((out / "fuzz-sqlite.json").read_text(encoding="utf-8"))
    officer = result["callers"]["officer"]
    assert officer["operations_tested"] == 2, officer
    assert officer["requests"] > 0
    assert result["server_errors"] == 0
    assert result["schema_violations"] == 0, officer["failures"]
    assert result["ok"]
