"""Load test of the HTTP API: the real server in a subprocess over a store of demo events, many
concurrent requests in four scenarios timed separately, then a check that no filed event was lost.

Scenarios: ``draft`` (POST /api/v1/dispatch/draft with generated complaint texts), ``list``
(GET /api/v1/events as city, district and street officers), ``file`` (POST /api/v1/events with
new external ids, as an integration user) and ``refile`` (the same POST again for about a tenth
of them: must answer 200 with the first id). The server runs offline (no LLM) in its own process,
so the load generator does not share its GIL. Reports numbers; exits 1 only on errors or lost
events, never on timing.

    python -m evals.load_api --url sqlite:////tmp/load/sanji.db --out /tmp/load
    python -m evals.load_api --url postgresql://postgres@127.0.0.1/sanji_load --out /tmp/load

The database is filled with ``--events`` demo events, the demo accounts and an integration user.
Pass an empty database (for PostgreSQL: ``CREATE DATABASE sanji_load`` first): the script refuses
a database that already holds events unless ``--reuse`` is given. A fresh data folder (regulation
index, classifier, checkpoints) is made under ``--out`` and removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.console import Console
from rich.table import Table

from demo.accounts import ensure_demo_accounts
from demo.generator import generate_events
from demo.load import load_demo
from domain.access import Role
from knowledge import Knowledge, default_knowledge
from store import EventStore
from store.users import Users
from tools.scope import jurisdiction_code

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
Scenario = Literal["draft", "list", "file", "refile"]
SCENARIOS: tuple[Scenario, ...] = ("draft", "list", "file", "refile")
EXPECTED: dict[Scenario, int] = {"draft": 200, "list": 200, "file": 201, "refile": 200}
OFFICERS = ("city", "yuzhong", "jiefangbei")  # city, district and street scope
FEED = "load_feed"  # the integration user that files events
DEMO_SEED = 3
TEXT_SEED = 20260101
TEXT_NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CLIENT_TIMEOUT = 60.0  # generous: at high concurrency we measure queueing, not failures
SERVER_START_TIMEOUT = 240.0
#: below uvicorn's 5 s --timeout-keep-alive; at httpx's default (also 5 s) a request now and
#: then goes out on a connection the server is closing and fails with ReadError
KEEPALIVE_S = 2.0
STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Refused(Exception):
    """The database is not one this run may fill."""


@dataclass(frozen=True)
class Job:
    scenario: Scenario
    user: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    external_id: str | None = None


@dataclass
class Sample:
    job: Job
    started: float
    ended: float
    status: int | None
    event_id: int | None = None
    error: str | None = None


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


# -- prepare ---------------------------------------------------------------------------------


def prepare(url: str, k: Knowledge, data_dir: Path, events: int, reuse: bool) -> dict[str, Any]:
    """Demo events, demo accounts and the integration user; an API key per user we load as."""
    store = EventStore.open(url, k.store_rules)
    try:
        existing = store.count_events()
        if existing and not reuse:
            raise Refused(
                f"the database already holds {existing} events; pass an empty database "
                "or --reuse to load on top of it"
            )
        now = datetime.now(UTC)
        t = time.perf_counter()
        loaded = load_demo(store, k, seed=DEMO_SEED, now=now, count=events)
        ensure_demo_accounts(store.db, k, data_dir)
        users = Users(store.db)
        if users.find(FEED) is None:
            users.add(
                FEED,
                role=Role.INTEGRATION,
                jurisdiction=jurisdiction_code(k, "重庆市"),
                display_name="压力测试对接系统",
                now=now,
            )
        keys = {}
        for name in (*OFFICERS, FEED):
            user = users.find(name)
            assert user is not None, name
            keys[name] = users.issue(user.id, "api_key", now=now)
        return {
            "dialect": store.db.dialect,
            "keys": keys,
            "existing_events": existing,
            "loaded": loaded,
            "seconds": round(time.perf_counter() - t, 1),
        }
    finally:
        store.close()


@contextmanager
def server(url: str, data_dir: Path, log_path: Path) -> Iterator[tuple[str, int]]:
    """``uvicorn --factory server:create_app`` in a subprocess on a free port of 127.0.0.1 that the server picks
    itself (port 0, read back from its start-up line: no race for the port); yields the base
    URL and the process id once the app has started. Not ``--fd`` with a socket bound here:
    uvicorn labels it AF_UNIX, asyncio then leaves Nagle on, and every response waits ~40 ms
    for a delayed ACK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    env |= {
        "SANJI_DATA_DIR": str(data_dir),
        "SANJI_DATABASE_URL": url,
        "SANJI_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    cmd += ["--log-level", "info", "--no-access-log"]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not (found := STARTED.search(log_path.read_text(encoding="utf-8", errors="replace"))):
            if proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in {SERVER_START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        base = f"http://127.0.0.1:{found.group(1)}"
        httpx.get(f"{base}/healthz", timeout=CLIENT_TIMEOUT).raise_for_status()
        # the app accepts connections before it has built its parts: wait until it is ready
        while httpx.get(f"{base}/readyz", timeout=CLIENT_TIMEOUT).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in {SERVER_START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it does not exit within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load --------------------------------------------------------------------------------


def plan(
    k: Knowledge, requests: int, prefix: str, totals: dict[str, int], seed: int = 1
) -> list[Job]:
    """``requests`` jobs, shuffled: 30 % drafts, 30 % filings, a tenth of the filings filed
    again, the rest listings at random pages of each officer's events."""
    rng = random.Random(seed)
    texts = [ev.create for ev in generate_events(k, seed=TEXT_SEED, now=TEXT_NOW, count=400)]
    n_file = max(1, round(requests * 0.3))
    n_refile = max(1, round(n_file * 0.1))
    n_draft = max(1, round(requests * 0.3))
    n_list = max(1, requests - n_file - n_refile - n_draft)
    jobs: list[Job] = []
    for i in range(n_draft):
        c = texts[i % len(texts)]
        body: dict[str, Any] = {"text": c.text, "title": c.title, "source": c.source.value}
        body |= {"address": c.address, "lat": c.lat, "lon": c.lon}
        jobs.append(Job("draft", OFFICERS[i % 3], "POST", "/api/v1/dispatch/draft", body=body))
    for i in range(n_list):
        user = OFFICERS[i % 3]
        offset = 20 * rng.randrange(max(1, -(-totals[user] // 20)))
        params = {"limit": 20, "offset": offset}
        jobs.append(Job("list", user, "GET", "/api/v1/events", params=params))
    filings = []
    for i in range(n_file):
        c = texts[rng.randrange(len(texts))]
        body = c.model_dump(mode="json", exclude={"external_id", "attributes"})
        body["external_id"] = f"{prefix}{i:06d}"
        filings.append(
            Job("file", FEED, "POST", "/api/v1/events", body=body, external_id=body["external_id"])
        )
    jobs += filings
    jobs += [
        Job("refile", FEED, "POST", "/api/v1/events", body=j.body, external_id=j.external_id)
        for j in rng.sample(filings, n_refile)
    ]
    rng.shuffle(jobs)
    return jobs


async def drive(
    base: str, keys: dict[str, str], jobs: list[Job], concurrency: int, timeout: float
) -> list[Sample]:
    """Run every job with at most ``concurrency`` in flight; a refile starts only after its
    first filing has answered. A job not done within ``timeout`` counts as an error."""
    limits = httpx.Limits(
        max_connections=concurrency,
        max_keepalive_connections=concurrency,
        keepalive_expiry=KEEPALIVE_S,
    )
    gate = asyncio.Semaphore(concurrency)
    filed = {j.external_id: asyncio.Event() for j in jobs if j.scenario == "file"}
    headers = {u: {"Authorization": f"Bearer {key}"} for u, key in keys.items()}
    samples: list[Sample] = []

    async with httpx.AsyncClient(
        base_url=base, http1=True, http2=False, limits=limits, timeout=CLIENT_TIMEOUT
    ) as client:

        async def one(job: Job) -> None:
            if job.scenario == "refile":
                await filed[job.external_id].wait()
            async with gate:
                t = time.perf_counter()
                try:
                    r = await client.request(
                        job.method,
                        job.path,
                        params=job.params,
                        json=job.body,
                        headers=headers[job.user],
                    )
                    sample = Sample(job, t, time.perf_counter(), r.status_code)
                    if r.status_code != EXPECTED[job.scenario]:
                        sample.error = f"{r.status_code}: {r.text[:300]}"
                    elif job.scenario in ("file", "refile"):
                        sample.event_id = int(r.json()["id"])
                except Exception as exc:
                    ended = time.perf_counter()
                    error = f"{exc!r} after {ended - t:.1f} s, at +{ended - t0:.1f} s"
                    sample = Sample(job, t, ended, None, error=error[:300])
                finally:
                    if job.scenario == "file":
                        filed[job.external_id].set()
                samples.append(sample)

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(one(j)) for j in jobs]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    done = {id(s.job) for s in samples}
    now = time.perf_counter()
    samples += [
        Sample(j, now, now, None, error=f"not finished within --timeout {timeout:g} s")
        for j in jobs
        if id(j) not in done
    ]
    return samples


# -- report ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    return round(values[int(q * (len(values) - 1))], 1) if values else None


def measure(samples: list[Sample]) -> dict[str, Any]:
    """Count, errors (with the first few), throughput over the wall time, latency percentiles
    of the successful requests."""
    ok = sorted((s.ended - s.started) * 1000 for s in samples if s.error is None)
    wall = max(s.ended for s in samples) - min(s.started for s in samples)
    errors = [s.error for s in samples if s.error is not None]
    return {
        "requests": len(samples),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 2),
        "req_per_s": round(len(samples) / wall, 1) if wall > 0 else None,
        "p50_ms": percentile(ok, 0.50),
        "p95_ms": percentile(ok, 0.95),
        "p99_ms": percentile(ok, 0.99),
        "max_ms": round(ok[-1], 1) if ok else None,
    }


def summarize(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    return {
        name: measure(mine)
        for name in SCENARIOS
        if (mine := [s for s in samples if s.job.scenario == name])
    }


def lost_events(url: str, k: Knowledge, prefix: str, samples: list[Sample]) -> dict[str, Any]:
    """What the database holds under the run's prefix against what the client was told."""
    acked = {
        str(s.job.external_id): s.event_id
        for s in samples
        if s.job.scenario == "file" and s.event_id is not None
    }
    store = EventStore.open(url, k.store_rules)
    try:
        rows = store.db.fetchall(
            "SELECT external_id, id FROM events WHERE external_id LIKE ?", (prefix + "%",)
        )
    finally:
        store.close()
    stored = {str(r["external_id"]): int(r["id"]) for r in rows}
    missing = sorted(x for x in acked if x not in stored or stored[x] != acked[x])
    unacked = sorted(x for x in stored if x not in acked)
    refiles = [s for s in samples if s.job.scenario == "refile"]
    mismatched = sorted(
        str(s.job.external_id)
        for s in refiles
        if s.event_id is None or s.event_id != acked.get(str(s.job.external_id))
    )
    return {
        "acknowledged_201": len(acked),
        "in_database": len(rows),
        "distinct_ids_acknowledged": len(set(acked.values())),
        "missing_or_different": missing[:10],
        "lost": len(missing),
        "stored_without_201": len(unacked),
        "refiles": len(refiles),
        "refiles_not_first_id": len(mismatched),
        "ok": len(rows) == len(acked) == len(set(acked.values()))
        and not missing
        and not mismatched,
    }


def render(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"API load · {result['backend']} · concurrency {result['concurrency']}")
    for col in ("scenario", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    rows = [*result["scenarios"].items(), ("overall", result["overall"])]
    for name, m in rows:
        cells = [
            m.get(c) for c in ("requests", "errors", "req_per_s", "p50_ms", "p95_ms", "p99_ms")
        ]
        cells.append(m.get("max_ms"))
        table.add_row(name, *("–" if c is None else str(c) for c in cells))
    console.print(table)
    cpu = result["cpu_s_during_load"]
    console.print(
        f"CPU during the load ({result['overall']['wall_s']} s wall, {cpu['cores']} cores): "
        f"server {cpu['server']} s, load generator {cpu['load_generator']} s"
    )
    check = result["lost_events_check"]
    verdict = "[green]ok[/green]" if check["ok"] else "[red]FAILED[/red]"
    console.print(
        f"lost-events check {verdict}: {check['acknowledged_201']} acknowledged with 201, "
        f"{check['in_database']} in the database, {check['lost']} lost, "
        f"{check['refiles_not_first_id']} of {check['refiles']} refiles without the first id"
    )
    for name, m in result["scenarios"].items():
        for err in m["first_errors"]:
            console.print(f"[red]{name}[/red] {err}", markup=True, highlight=False)


# -- main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    k = default_knowledge()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=args.out))
    try:
        prep = prepare(args.url, k, data_dir, args.events, args.reuse)
        dialect, keys = prep["dialect"], prep["keys"]
        log.info("loaded %s in %s s; starting the server", prep["loaded"], prep["seconds"])
        t = time.perf_counter()
        with server(args.url, data_dir, args.out / f"server-{dialect}.log") as (base, pid):
            startup = time.perf_counter() - t
            totals = {}
            for user in OFFICERS:
                r = httpx.get(
                    f"{base}/api/v1/events",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {keys[user]}"},
                    timeout=CLIENT_TIMEOUT,
                )
                r.raise_for_status()
                totals[user] = int(r.json()["total"])
            prefix = f"LOAD-{secrets.token_hex(4)}-"
            jobs = plan(k, args.requests, prefix, totals)
            log.info("%d requests at concurrency %d", len(jobs), args.concurrency)
            before = cpu_seconds(pid), time.process_time()
            samples = asyncio.run(drive(base, keys, jobs, args.concurrency, args.timeout))
            after = cpu_seconds(pid), time.process_time()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    scenarios = summarize(samples)
    overall = measure(samples)
    del overall["first_errors"]
    errors = overall["errors"]
    check = lost_events(args.url, k, prefix, samples)
    return {
        "backend": dialect,
        "url": redacted(args.url),
        "server": "uvicorn --factory server:create_app in a subprocess, offline engine",
        "concurrency": args.concurrency,
        "requests": len(jobs),
        "events_loaded": prep["loaded"],
        "prepare_s": prep["seconds"],
        "server_start_s": round(startup, 1),
        "cpu_s_during_load": {
            "server": (
                round(after[0] - before[0], 1)
                if after[0] is not None and before[0] is not None
                else None
            ),
            "load_generator": round(after[1] - before[1], 1),
            "cores": os.cpu_count(),
        },
        "visible_events": totals,
        "run_prefix": prefix,
        "scenarios": scenarios,
        "overall": overall,
        "lost_events_check": check,
        "ok": errors == 0 and check["ok"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="sqlite:///path or postgresql://…")
    parser.add_argument("--out", type=Path, required=True, help="write load-<dialect>.json here")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight")
    parser.add_argument("--requests", type=int, default=2000, help="requests in all")
    parser.add_argument("--events", type=int, default=2000, help="demo events to load first")
    parser.add_argument(
        "--timeout", type=float, default=600, help="stop the load after this many seconds"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="accept a database that already holds events"
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.requests < 4:
        parser.error("--concurrency must be at least 1 and --requests at least 4")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = run(args)
    except Refused as exc:
        parser.error(str(exc))
    path = args.out / f"load-{result['backend']}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    render(result, Console())
    print(f"written to {path}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
