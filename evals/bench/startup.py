"""Start-up benchmark (issue #16): how long a user waits before Sanji answers, each figure
beside its floor measured in the same run. Reports numbers; never fails on timing.

    python -m evals.bench.startup [--runs 10] [--serve-runs 1] [--events 200] [--out FILE]

- ``sanji --help`` and ``sanji version``: median of ``--runs`` processes; floor
  ``python -c pass``.
- ``sanji serve`` on a fresh data folder: seconds to ``/healthz`` and to ``/readyz`` (ready),
  with the second at which each start-up step began (what readiness waits on); floor for
  liveness: ``python -c pass``.
- LangGraph Studio: importing ``agents.studio`` and getting both compiled graphs from their
  factories, on a fresh data folder; floor: ``import langgraph.graph``.
- ``sanji triage --file``: ``--events`` demo events in one process (events/s over the whole
  command and inside the batch, from its summary), against one ``sanji triage`` process per
  event (the way a script had to call it before).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
SANJI = str(BIN / "sanji")
ROOT = Path(__file__).resolve().parents[2]
STUDIO = "import asyncio, agents.studio as s; asyncio.run(s.triage({})); asyncio.run(s.review({}))"


def _env(data_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    if data_dir is not None:
        env["SANJI_DATA_DIR"] = str(data_dir)
    return env


def _wall(argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, input=stdin, capture_output=True, check=True)
    return time.perf_counter() - started


def median_of(runs: int, argv: list[str], env: dict[str, str]) -> dict[str, float]:
    _wall(argv, env)  # warm the file cache: the figure is start-up, not the disk
    times = [_wall(argv, env) for _ in range(runs)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def _status(url: str) -> tuple[int | None, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None
    except (OSError, ValueError):
        return None, None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_once(data_dir: Path, limit_s: float = 1200) -> dict[str, Any]:
    """``sanji serve`` on ``data_dir`` (fresh): seconds to liveness, to readiness, and the
    second each start-up step was first seen."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (data_dir.parent / f"serve-{port}.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [SANJI, "serve", "--port", str(port)],
        env=_env(data_dir),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    healthz: float | None = None
    ready: float | None = None
    steps: dict[str, float] = {}
    try:
        while time.perf_counter() - started < limit_s and proc.poll() is None:
            if healthz is None and _status(base + "/healthz")[0] == 200:
                healthz = time.perf_counter() - started
            if healthz is not None:
                code, body = _status(base + "/readyz")
                now = time.perf_counter() - started
                if code == 200:
                    ready = now
                    break
                step = ((body or {}).get("progress") or {}).get("step")
                if step and step not in steps:
                    steps[step] = round(now, 2)
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    return {"healthz_s": healthz, "ready_s": ready, "steps_seen_at_s": steps}


def _demo_lines(count: int) -> bytes:
    from demo.generator import generate_events
    from knowledge import default_knowledge

    rows = []
    for e in generate_events(default_knowledge(), seed=11, now=datetime.now(UTC), count=count):
        row = e.create.model_dump(mode="json", exclude_none=True)
        row.pop("external_id", None)  # new events, whatever the folder already holds
        rows.append(json.dumps(row, ensure_ascii=False))
    return ("\n".join(rows) + "\n").encode("utf-8")


def triage_file(data_dir: Path, events: int) -> dict[str, Any]:
    feed = _demo_lines(events)
    started = time.perf_counter()
    out = subprocess.run(
        [SANJI, "triage", "--file", "-"],
        env=_env(data_dir),
        cwd=ROOT,
        input=feed,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    results = [json.loads(line) for line in out.stdout.decode("utf-8").splitlines()]
    failed = sum("error" in r for r in results)
    summary = out.stderr.decode("utf-8")
    inner = re.search(r"用时 ([\d.]+) 秒", summary)
    batch_s = float(inner.group(1)) if inner else None
    one = _wall(
        [SANJI, "triage", "楼道里有很浓的天然气味道", "--district", "渝中区", "--json"],
        _env(data_dir),
    )
    return {
        "events": len(results),
        "failed": failed,
        "wall_s": wall,
        "events_per_s_wall": len(results) / wall,
        "batch_s": batch_s,
        "events_per_s_batch": len(results) / batch_s if batch_s else None,
        "one_process_per_event_s": one,
        "events_per_s_one_process_each": 1 / one,
    }


def step(what: str) -> None:
    print(f"… {what}", file=sys.stderr, flush=True)


def run(runs: int, serve_runs: int, events: int, work: Path) -> dict[str, Any]:
    python = sys.executable
    empty = work / "never-created"
    result: dict[str, Any] = {"runs": runs, "machine": {"cpus": os.cpu_count()}}
    step("CLI")
    result["python_c_pass"] = median_of(runs, [python, "-c", "pass"], _env())
    result["sanji_help"] = median_of(runs, [SANJI, "--help"], _env())
    result["sanji_version"] = median_of(runs, [SANJI, "version"], _env())
    step("Studio")
    result["import_langgraph_graph"] = median_of(
        runs, [python, "-c", "import langgraph.graph"], _env()
    )
    result["studio_graphs"] = median_of(runs, [python, "-c", STUDIO], _env(empty))
    result["studio_built_nothing"] = not empty.exists()
    serves = []
    data = work / "serve-0" / "data"
    for n in range(serve_runs):
        step(f"serve on a fresh data folder ({n + 1}/{serve_runs})")
        data = work / f"serve-{n}" / "data"
        data.parent.mkdir(parents=True)
        serves.append(serve_once(data))
    ready = [s["ready_s"] for s in serves if s["ready_s"] is not None]
    result["serve"] = {
        "runs": serves,
        "healthz_median_s": statistics.median(
            [s["healthz_s"] for s in serves if s["healthz_s"] is not None] or [float("nan")]
        ),
        "ready_median_s": statistics.median(ready) if ready else None,
    }
    step(f"triage --file, {events} events, on the folder serve prepared")
    result["triage_file"] = triage_file(data, events)
    return result


def report(r: dict[str, Any]) -> str:
    floor = r["python_c_pass"]["median_s"]
    lg = r["import_langgraph_graph"]["median_s"]
    t = r["triage_file"]
    s = r["serve"]
    lines = [
        f"medians of {r['runs']} runs (serve: {len(s['runs'])} run(s) on a fresh data folder)",
        f"python -c pass (floor)          {floor * 1000:8.0f} ms",
        f"sanji --help                    {r['sanji_help']['median_s'] * 1000:8.0f} ms"
        f"   {r['sanji_help']['median_s'] / floor:5.1f} x floor   (target < 500 ms)",
        f"sanji version                   {r['sanji_version']['median_s'] * 1000:8.0f} ms"
        f"   {r['sanji_version']['median_s'] / floor:5.1f} x floor   (target < 500 ms)",
        f"import langgraph.graph (floor)  {lg:8.2f} s",
        f"Studio graphs (import+factory)  {r['studio_graphs']['median_s']:8.2f} s"
        f"   {r['studio_graphs']['median_s'] / lg:5.1f} x floor   (target < 5 s;"
        f" built nothing: {r['studio_built_nothing']})",
        f"serve: /healthz                 {s['healthz_median_s']:8.2f} s"
        f"   {s['healthz_median_s'] / floor:5.1f} x python start   (target < 2 s)",
        "serve: ready                    "
        + (f"{s['ready_median_s']:8.2f} s" if s["ready_median_s"] else "   never")
        + "   (target < 20 s)",
    ]
    for n, one in enumerate(s["runs"]):
        seen = ", ".join(f"{k} {v:.1f} s" for k, v in one["steps_seen_at_s"].items())
        lines.append(f"  run {n + 1} steps first seen at: {seen}")
    lines += [
        f"triage --file, {t['events']} events ({t['failed']} failed):"
        f" {t['events_per_s_wall']:.1f} events/s over {t['wall_s']:.1f} s with start-up,"
        f" {t['events_per_s_batch'] or float('nan'):.1f} events/s inside the batch",
        f"  one sanji triage process per event: {t['one_process_per_event_s']:.1f} s each"
        f" = {t['events_per_s_one_process_each']:.2f} events/s"
        f" ({t['events_per_s_wall'] / t['events_per_s_one_process_each']:.0f} x fewer)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="runs of each short command")
    parser.add_argument("--serve-runs", type=int, default=1, help="fresh-folder serve runs")
    parser.add_argument("--events", type=int, default=200, help="events for triage --file")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sanji-bench-startup-"))
    try:
        result = run(args.runs, args.serve_runs, args.events, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
