"""Benchmark of perception through the brokers: sustained readings per second from MQTT (or
NATS JetStream) through the consumer, the rules and the events to their drafts, the latency
from a reading's publication to its event's draft, and a consumer restart (SIGKILL mid-stream)
with nothing lost and nothing made twice. Reports numbers; never fails on timing.

    python -m evals.bench.alarms [--broker mqtt|nats|both] [--seconds 30] [--rate 2000]
        [--per-message 1] [--floor] [--no-restart] [--mqtt-url URL] [--nats-url URL]
        [--workdir DIR] [--database-url URL] [--out FILE]

Input: simulated days (``demo.alarms``) of every registered device, consecutive days from
2026-07-01 until there are ``seconds × rate`` readings, published at ``rate`` readings per
second by a process of its own.

*sustained*: the consumer runs in this process over ``services.perception`` (drafts on, as
``sanji alarms consume`` runs it); a reading's latency is from just before it was published
to the return of the ``ingest`` call that took it (durable, its event drafted); alarm-to-draft
is that latency for the readings that opened an event.

*restart*: the same input into a fresh store through ``sanji alarms consume`` in a process
of its own, killed with SIGKILL once a quarter of the readings are in and started again;
then readings stored, distinct keys, alarms and events, against the sustained run's."""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from demo.alarms import SimDevice, simulate_day
from domain.alarms import IngestResult, Reading
from ingest.mqtt import MqttConsumer
from ingest.nats import NatsConsumer
from ingest.publish import paced, publish_mqtt, publish_nats
from ingest.pump import Pump
from ingest.wire import JsonlDeadLetters
from knowledge import Knowledge, default_knowledge

URLS = {"mqtt": "mqtt://127.0.0.1:1883", "nats": "nats://127.0.0.1:4222"}
FIRST_DAY = date(2026, 7, 1)


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[round(q * (len(ordered) - 1))] * 1000, 1)


def bench_readings(k: Knowledge, n: int) -> list[Reading]:
    """At least ``n`` readings of the registered devices, whole simulated days in order."""
    devices = [SimDevice.of(d.model_dump()) for d in k.sensing.devices.values()]
    out: list[Reading] = []
    day = FIRST_DAY
    while len(out) < n:
        out += simulate_day(devices, day, seed=11)
        day += timedelta(days=1)
    return out[:n]


class Names:
    """Topic, client id, stream and consumer of one run (its own, deleted afterwards)."""

    def __init__(self, broker: str, url: str) -> None:
        self.broker = broker
        self.url = url
        self.tag = f"bench{uuid.uuid4().hex[:8]}"
        self.topic = f"sanji-bench/{self.tag}"
        self.client_id = f"sanji-bench-{self.tag}"
        self.stream = f"SANJI_BENCH_{self.tag.upper()}"
        self.subject = f"sanji-bench.{self.tag}.>"
        self.durable = f"bench-{self.tag}"

    def cli_args(self) -> list[str]:
        if self.broker == "mqtt":
            return ["--mqtt", self.url, "--topic", self.topic, "--client-id", self.client_id]
        return [
            "--nats",
            self.url,
            "--stream",
            self.stream,
            "--subject",
            self.subject,
            "--durable",
            self.durable,
        ]

    def publish(self, messages: Iterator[list[Reading]]) -> int:
        if self.broker == "mqtt":
            return publish_mqtt(self.url, messages, prefix=self.topic)
        return publish_nats(
            self.url, messages, stream=self.stream, subject=self.subject, dedupe=False
        )

    def cleanup(self) -> None:
        if self.broker != "nats":
            return
        import asyncio

        import nats

        async def go() -> None:
            nc = await nats.connect(self.url)
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(self.stream)
            await nc.close()

        asyncio.run(go())


def _stamped(messages: Iterator[list[Reading]]) -> Iterator[list[Reading]]:
    """Each reading marked with the moment it is handed to the publisher."""
    for chunk in messages:
        now = time.time()
        yield [
            r.model_copy(update={"attributes": {**r.attributes, "bench_sent": now}}) for r in chunk
        ]


def _publisher(
    names: Names, readings: list[Reading], rate: float, per_message: int, out: Any
) -> None:
    started = time.time()
    sent = names.publish(_stamped(paced(readings, batch=per_message, rate=rate)))
    out.put({"sent": sent, "seconds": time.time() - started})


def _settings(workdir: Path, database_url: str | None, name: str) -> Any:
    from settings import Settings

    db = database_url or f"sqlite:///{(workdir / f'{name}.db').resolve()}"
    if db.startswith("sqlite:///"):
        Path(db.removeprefix("sqlite:///")).unlink(missing_ok=True)
    return Settings(data_dir=workdir / "data", database_url=db)


def _store_counts(settings: Any) -> dict[str, int]:
    from agents.runtime import open_store

    store = open_store(settings)
    try:

        def one(sql: str) -> int:
            row = store.db.fetchone(sql)
            return int(row["n"]) if row else 0

        return {
            "readings": one("SELECT COUNT(*) AS n FROM readings"),
            "distinct_keys": one("SELECT COUNT(DISTINCT key) AS n FROM readings"),
            "rejected": one("SELECT COUNT(*) AS n FROM rejected_readings"),
            "alarms": one("SELECT COUNT(*) AS n FROM alarms"),
            "events": one("SELECT COUNT(*) AS n FROM events"),
        }
    finally:
        store.close()


def sustained(
    broker: str,
    url: str,
    readings: list[Reading],
    rate: float,
    per_message: int,
    workdir: Path,
    database_url: str | None,
) -> dict[str, Any]:
    from agents.runtime import build_services

    settings = _settings(workdir, database_url, f"{broker}-sustained")
    names = Names(broker, url)
    latencies: list[float] = []
    drafts: list[float] = []
    seen_events: set[int] = set()
    done_at: list[float] = []
    first_sent: list[float] = []

    def observe(batch: Sequence[Reading], results: Sequence[IngestResult]) -> None:
        now = time.time()
        by_key = {r.key: r for r in batch}
        for res in results:
            r = by_key.get(res.key)
            sent = r.attributes.get("bench_sent") if r is not None else None
            if sent is None:
                continue
            latencies.append(now - sent)
            if not first_sent or sent < first_sent[0]:
                first_sent[:] = [sent]
            fresh = [e for e in res.event_ids if e not in seen_events]
            if fresh:
                seen_events.update(fresh)
                drafts.append(now - sent)
        done_at.append(now)

    with build_services(settings) as services:
        pump = Pump(
            services.perception, JsonlDeadLetters(workdir / "dead.jsonl"), broker, observe=observe
        )
        consumer: MqttConsumer | NatsConsumer
        if broker == "mqtt":
            consumer = MqttConsumer(url, pump, topic=f"{names.topic}/#", client_id=names.client_id)
        else:
            consumer = NatsConsumer(
                url, pump, stream=names.stream, subject=names.subject, durable=names.durable
            )
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
        thread.start()
        consumer.connected.wait(60)
        time.sleep(1)  # the subscription is made on connect
        queue: Any = mp.get_context("spawn").Queue()
        child = mp.get_context("spawn").Process(
            target=_publisher, args=(names, readings, rate, per_message, queue)
        )
        started = time.time()
        child.start()
        deadline = started + len(readings) / rate * 10 + 300
        while pump.counts.readings < len(readings) and time.time() < deadline:
            time.sleep(0.2)
        finished = max(done_at) if done_at else time.time()
        published = queue.get(timeout=600)
        child.join()
        stop.set()
        thread.join(timeout=60)
        counts = pump.counts
    names.cleanup()
    took = finished - (first_sent[0] if first_sent else started)  # from the first publication
    return {
        "broker": broker,
        "readings": len(readings),
        "per_message": per_message,
        "target_rate": rate,
        "published_rate": round(published["sent"] / published["seconds"], 1),
        "ingested": counts.readings,
        "sustained_rate": round(counts.readings / took, 1),
        "seconds": round(took, 1),
        "batches": counts.batches,
        "mean_batch": round(counts.readings / max(counts.batches, 1), 1),
        "latency_ms": {
            "p50": _pct(latencies, 0.5),
            "p95": _pct(latencies, 0.95),
            "max": _pct(latencies, 1.0),
        },
        "alarm_to_draft_ms": {
            "events": len(drafts),
            "p50": _pct(drafts, 0.5),
            "p95": _pct(drafts, 0.95),
            "max": _pct(drafts, 1.0),
        },
        "store": _store_counts(settings),
    }


def floor(readings: list[Reading], workdir: Path, database_url: str | None) -> dict[str, Any]:
    """The pipeline alone: the same readings handed to ``services.perception`` directly in
    batches of 500 (no broker, no decoding), into a fresh store."""
    from agents.runtime import build_services

    settings = _settings(workdir, database_url, "floor")
    with build_services(settings) as services:
        started = time.perf_counter()
        for i in range(0, len(readings), 500):
            services.perception.ingest(readings[i : i + 500])
        took = time.perf_counter() - started
    return {
        "readings": len(readings),
        "seconds": round(took, 1),
        "rate": round(len(readings) / took, 1),
    }


def restart(
    broker: str,
    url: str,
    readings: list[Reading],
    rate: float,
    per_message: int,
    workdir: Path,
    database_url: str | None,
) -> dict[str, Any]:
    settings = _settings(workdir, database_url, f"{broker}-restart")
    names = Names(broker, url)
    env = {
        **os.environ,
        "SANJI_DATA_DIR": str(settings.data_dir),
        "SANJI_DATABASE_URL": settings.resolved_database_url,
    }
    cmd = [sys.executable, "-m", "cli", "alarms", "consume", *names.cli_args(), "--every", "5"]
    log = (workdir / f"{broker}-restart.log").open("a")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stored() -> int:
        try:
            return _store_counts(settings)["readings"]
        except Exception:  # the consumer is still creating the store
            return 0

    proc = start()
    warm = readings[:1]
    while stored() < 1:  # the consumer is subscribed once a reading comes through
        names.publish(iter([warm]))
        time.sleep(1)
    rest = readings[1:]
    sender = threading.Thread(
        target=lambda: names.publish(paced(rest, batch=per_message, rate=rate)), daemon=True
    )
    started = time.time()
    sender.start()
    while stored() < len(readings) // 4:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = stored()
    killed_at = time.time() - started
    proc = start()
    deadline = time.time() + len(readings) / rate * 10 + 600
    while stored() < len(readings) and time.time() < deadline:
        time.sleep(0.5)
    sender.join(timeout=60)
    took = time.time() - started
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    log.close()
    names.cleanup()
    counts = _store_counts(settings)
    return {
        "broker": broker,
        "readings": len(readings),
        "killed_at_s": round(killed_at, 1),
        "stored_at_kill": at_kill,
        "seconds": round(took, 1),
        "lost": len(readings) - counts["distinct_keys"] - counts["rejected"],
        "duplicated_readings": counts["readings"] - counts["distinct_keys"],
        "store": counts,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", choices=["mqtt", "nats", "both"], default="both")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--per-message", type=int, default=1)
    p.add_argument("--mqtt-url", default=URLS["mqtt"])
    p.add_argument("--nats-url", default=URLS["nats"])
    p.add_argument("--workdir", type=Path, default=Path("data/bench/alarms"))
    p.add_argument("--database-url")
    p.add_argument("--no-restart", action="store_true")
    p.add_argument("--floor", action="store_true", help="also the pipeline alone, no broker")
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    k = default_knowledge()
    readings = bench_readings(k, int(a.seconds * a.rate))
    command = "python -m evals.bench.alarms " + " ".join(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {"command": command, "runs": []}
    if a.floor:
        report["floor"] = floor(readings, a.workdir, a.database_url)
        print(json.dumps({"floor": report["floor"]}), flush=True)
    for broker in ["mqtt", "nats"] if a.broker == "both" else [a.broker]:
        url = a.mqtt_url if broker == "mqtt" else a.nats_url
        args = (broker, url, readings, a.rate, a.per_message, a.workdir, a.database_url)
        run = {"sustained": sustained(*args)}
        print(json.dumps(run, ensure_ascii=False), flush=True)
        if not a.no_restart:
            run["restart"] = restart(*args)
            print(json.dumps({"restart": run["restart"]}, ensure_ascii=False), flush=True)
        report["runs"].append(run)
    print(command)
    if "floor" in report:
        f = report["floor"]
        print(
            f"floor (perception.ingest alone, batches of 500): {f['readings']} readings in {f['seconds']} s = {f['rate']} readings/s"
        )
    for run in report["runs"]:
        s = run["sustained"]
        print(
            f"{s['broker']}: {s['ingested']}/{s['readings']} readings in {s['seconds']} s = "
            f"{s['sustained_rate']} readings/s (published at {s['published_rate']}/s, "
            f"{s['per_message']} per message, mean batch {s['mean_batch']}); latency p50 "
            f"{s['latency_ms']['p50']} ms p95 {s['latency_ms']['p95']} ms; alarm-to-draft "
            f"{s['alarm_to_draft_ms']['events']} events p50 {s['alarm_to_draft_ms']['p50']} ms "
            f"p95 {s['alarm_to_draft_ms']['p95']} ms; store {s['store']}"
        )
        if "restart" in run:
            r = run["restart"]
            print(
                f"{r['broker']} restart: killed at {r['killed_at_s']} s with {r['stored_at_kill']} "
                f"stored; lost {r['lost']}, duplicated readings {r['duplicated_readings']}; "
                f"store {r['store']} (uninterrupted: alarms {s['store']['alarms']}, events "
                f"{s['store']['events']})"
            )
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
