"""A bounded schemathesis pass over the HTTP API: the real server in a subprocess over a fresh
store of demo events, schemathesis against its ``/openapi.json`` once per caller (an officer who
may act, an integration client), bounded in time and in examples per operation, loopback only.

    python -m evals.fuzz_api --store sqlite --seconds 120 --out /tmp/fuzz
    python -m evals.fuzz_api --store postgresql --seconds 120 --out /tmp/fuzz

Reports operations tested, requests sent, 5xx answers, schema violations and the failures per
check, to stdout and to ``<out>/fuzz-<store>.json``; schemathesis' own reports (JSON verdict, HAR
of every request) stay under ``<out>/<store>-<caller>/``. Exits 1 when any request got a 5xx or
any check failed. A fresh SQLite file is made under ``--out``; for PostgreSQL a new database is
created through ``--postgres-admin`` (an URL of a database the user may create databases from)
and dropped afterwards. Needs the ``dev`` extra (schemathesis).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

from evals.load_api import FEED, prepare, server
from knowledge import default_knowledge

log = logging.getLogger(__name__)
Store = Literal["sqlite", "postgresql"]
#: who schemathesis calls as: an officer who may act on every event, and an integration client
CALLERS = {"officer": "city", "integration": FEED}
#: what a run checks; the stateful checks (use_after_free, ensure_resource_availability…) need
#: links the schema does not declare
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
#: failures that are not a schema violation (a 5xx is counted from the HAR as such)
NOT_SCHEMA = frozenset({"ServerError"})
SEED = 20261120
DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(store: Store, out: Path, admin: str) -> Iterator[str]:
    """A new, empty database: a SQLite file under ``out``, or a PostgreSQL database created
    through ``admin`` and dropped on the way out."""
    if store == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="db-", dir=out))
        try:
            yield f"sqlite:///{folder / 'sanji.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    name = f"sanji_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schemathesis_command(
    base: str, key: str, report_dir: Path, seconds: int, args: argparse.Namespace
) -> list[str]:
    cmd = [*runner(args.schemathesis), "run", f"{base}/openapi.json"]
    cmd += ["--header", f"Authorization: Bearer {key}"]
    cmd += ["--checks", ",".join(CHECKS), "--max-time", str(seconds)]
    cmd += ["--max-examples", str(args.max_examples), "--seed", str(args.seed)]
    cmd += ["--workers", "1", "--request-timeout", "60", "--generation-database", "none"]
    cmd += ["--report", "json,har", "--report-json-path", str(report_dir / "verdict.json")]
    cmd += ["--report-har-path", str(report_dir / "requests.har"), "--no-color"]
    cmd += ["--suppress-health-check", "all", "--output-truncate", "true"]
    # the push stream is open for minutes by design (GET /api/v1/stream): not a request and
    # answer to fuzz; tests/integration/test_stream.py covers it, bad parameters included
    cmd += ["--exclude-path", "/api/v1/stream"]
    if args.phases:
        cmd += ["--phases", args.phases]
    if args.include_path_regex:
        cmd += ["--include-path-regex", args.include_path_regex]
    return cmd


#: schemathesis lives in a venv of its own (``make fuzz`` builds it): it only speaks HTTP to the
#: server, and its current releases need a jsonschema-rs that LangGraph's dev server forbids
FUZZ_VENV_TOOL = Path(__file__).resolve().parents[1] / ".venv-fuzz" / "bin" / "schemathesis"


def runner(tool: Path | None) -> list[str]:
    """The schemathesis command: the given executable, the project's fuzz venv, or this
    interpreter's module as a last resort."""
    chosen = tool or (FUZZ_VENV_TOOL if FUZZ_VENV_TOOL.exists() else None)
    return [str(chosen)] if chosen else [sys.executable, "-m", "schemathesis.cli"]


def summarize_caller(report_dir: Path, exit_code: int, wall: float) -> dict[str, Any]:
    """Operations, requests, status codes and failures of one schemathesis run, from its
    JSON verdict and its HAR of every request."""
    verdict = json.loads((report_dir / "verdict.json").read_text(encoding="utf-8"))
    har = json.loads((report_dir / "requests.har").read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    statuses = Counter(int(e["response"]["status"]) for e in entries)
    server_errors = [
        f"{e['request']['method']} {e['request']['url']} -> {e['response']['status']}"
        for e in entries
        if int(e["response"]["status"]) >= 500
    ]
    per_check: Counter[str] = Counter()
    failures = []
    for group in verdict["failures"]:
        per_check[group["type"]] += group["count"]
        failures.append(
            {k: group[k] for k in ("type", "title", "count", "operations") if k in group}
        )
    operations = verdict["operations"] or {}
    return {
        "exit_code": exit_code,
        "wall_s": round(wall, 1),
        "stop_reason": verdict["stop_reason"],
        "operations_tested": operations.get("tested", 0),
        "operations_selected": operations.get("selected", 0),
        "operations_errored": operations.get("errored", 0),
        "test_cases": verdict["test_cases"]["generated"],
        "requests": len(entries),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": len(server_errors),
        "first_server_errors": server_errors[:10],
        "schema_violations": sum(n for c, n in per_check.items() if c not in NOT_SCHEMA),
        "failures_per_check": dict(per_check),
        "failures": failures,
        "errors": verdict["errors"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    k = default_knowledge()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    callers = {}
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database(args.store, out, args.postgres_admin))
        data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=out))
        if args.prepared:
            shutil.copytree(args.prepared, data_dir, dirs_exist_ok=True)
        stack.callback(shutil.rmtree, data_dir, True)
        prep = prepare(url, k, data_dir, args.events, reuse=False)
        base, _ = stack.enter_context(server(url, data_dir, out / f"server-{args.store}.log"))
        share = max(1, args.seconds // len(args.callers))
        for caller in args.callers:
            report_dir = out / f"{args.store}-{caller}"
            shutil.rmtree(report_dir, ignore_errors=True)
            cmd = schemathesis_command(base, prep["keys"][CALLERS[caller]], report_dir, share, args)
            log.info("schemathesis as %s for at most %d s", caller, share)
            t = time.perf_counter()
            with (out / f"schemathesis-{args.store}-{caller}.log").open("wb") as stdout:
                # the engine stops itself after --max-time; the timeout only guards a hang. It
                # runs in ``out`` so that its own cache folder lands there, not in the checkout
                proc = subprocess.run(
                    cmd,
                    cwd=out,
                    stdout=stdout,
                    stderr=subprocess.STDOUT,
                    timeout=share + 300,
                    check=False,
                )
            callers[caller] = summarize_caller(report_dir, proc.returncode, time.perf_counter() - t)
    totals = {
        key: sum(c[key] for c in callers.values())
        for key in ("requests", "server_errors", "schema_violations")
    }
    failed = sum(sum(c["failures_per_check"].values()) + len(c["errors"]) for c in callers.values())
    return {
        "store": args.store,
        "events_loaded": prep["loaded"],
        "seconds": args.seconds,
        "max_examples": args.max_examples,
        "seed": args.seed,
        "checks": list(CHECKS),
        "operations_tested": max(c["operations_tested"] for c in callers.values()),
        **totals,
        "callers": callers,
        "ok": totals["server_errors"] == 0 and failed == 0,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"schemathesis · {result['store']} · {result['seconds']} s · "
        f"at most {result['max_examples']} examples per operation · seed {result['seed']}",
        f"operations {result['operations_tested']}, requests {result['requests']}, "
        f"5xx {result['server_errors']}, schema violations {result['schema_violations']}",
    ]
    for name, c in result["callers"].items():
        lines.append(
            f"  as {name}: {c['operations_tested']} operations, {c['requests']} requests, "
            f"{c['server_errors']} 5xx, {c['schema_violations']} schema violations, "
            f"statuses {c['statuses']}, stopped: {c['stop_reason']}"
        )
        lines += [
            f"    {f['type']} ×{f['count']}: {f['title']} {f['operations']}" for f in c["failures"]
        ]
        lines += [f"    5xx: {e}" for e in c["first_server_errors"]]
        lines += [f"    error ×{e['count']}: {e['title']}" for e in c["errors"]]
    lines.append("ok" if result["ok"] else "FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="reports go here")
    parser.add_argument("--seconds", type=int, default=120, help="time budget of all callers")
    parser.add_argument("--max-examples", type=int, default=50, help="per operation and phase")
    parser.add_argument("--events", type=int, default=60, help="demo events to load first")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--callers", nargs="+", choices=list(CALLERS), default=list(CALLERS), metavar="CALLER"
    )
    parser.add_argument(
        "--prepared",
        type=Path,
        help="a data folder whose regulation index and classifier are built already (copied)",
    )
    parser.add_argument(
        "--schemathesis",
        type=Path,
        help="the schemathesis executable (default: .venv-fuzz/bin/schemathesis, made by make fuzz)",
    )
    parser.add_argument("--phases", help="schemathesis phases, e.g. examples,coverage,fuzzing")
    parser.add_argument("--include-path-regex", help="only the operations whose path matches")
    parser.add_argument(
        "--postgres-admin",
        default=os.environ.get("SANJI_TEST_POSTGRES_URL", DEFAULT_ADMIN),
        help="where to create the PostgreSQL database (loopback)",
    )
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.max_examples < 1:
        parser.error("--seconds and --max-examples must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = run(args)
    path = args.out / f"fuzz-{args.store}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(render(result))
    print(f"written to {path}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
