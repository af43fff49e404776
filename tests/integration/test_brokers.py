"""The consumers against the real brokers of this machine: a consumer process killed
mid-stream (SIGKILL) and restarted loses nothing and ingests nothing twice; a redelivered
message makes nothing new; an unreadable message is kept and acknowledged, never blocking the
stream; a broker restart is survived. The sink here is the test's SQLite table of readings
(tests/fakes/sink.py): these tests are about the consumers; test_brokers_pipeline.py runs
``sanji alarms consume`` over the real perception pipeline."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.alarms import IngestResult, Reading
from ingest.mqtt import MqttConsumer
from ingest.nats import NatsConsumer
from ingest.publish import paced, publish_mqtt, publish_nats
from ingest.pump import Pump
from ingest.wire import JsonlDeadLetters
from tests.brokers import (
    delete_stream,
    need_mqtt,
    need_nats,
    private_mosquitto,
    private_nats,
    unique,
    wait_for,
)
from tests.fakes.sink import SqliteSink

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)


def readings(tag: str, n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(
            message_id=f"{tag}-{i}",
            device_id=f"T-{i % 40:02d}",
            observed_at=T0 + timedelta(seconds=i),
            metrics={"rain_mm_h": float(i % 70)},
        )
        for i in range(start, start + n)
    ]


@dataclass
class Route:
    """One broker with names of the test's own (topic, client id, stream, consumer)."""

    kind: str
    url: str
    tag: str = field(default_factory=lambda: unique("t"))

    @property
    def topic(self) -> str:
        return f"sanji-test/{self.tag}"

    @property
    def stream(self) -> str:
        return f"SANJI_TEST_{self.tag.upper()}"

    @property
    def subject(self) -> str:
        return f"sanji-test.{self.tag}.>"

    def consumer_args(self) -> list[str]:
        if self.kind == "mqtt":
            return ["--mqtt", self.url, "--topic", self.topic, "--client-id", f"c-{self.tag}"]
        return [
            "--nats",
            self.url,
            "--stream",
            self.stream,
            "--subject",
            self.subject,
            "--durable",
            f"d-{self.tag}",
        ]

    def consumer(self, pump: Pump, ack_wait_s: float = 30) -> MqttConsumer | NatsConsumer:
        if self.kind == "mqtt":
            return MqttConsumer(self.url, pump, topic=f"{self.topic}/#", client_id=f"c-{self.tag}")
        return NatsConsumer(
            self.url,
            pump,
            stream=self.stream,
            subject=self.subject,
            durable=f"d-{self.tag}",
            ack_wait_s=ack_wait_s,
        )

    def publish(
        self, items: list[Reading], *, per_message: int = 1, rate: float = 0, dedupe: bool = True
    ) -> int:
        messages = paced(items, batch=per_message, rate=rate)
        if self.kind == "mqtt":
            return publish_mqtt(self.url, messages, prefix=self.topic)
        return publish_nats(
            self.url, messages, stream=self.stream, subject=self.subject, dedupe=dedupe
        )

    def publish_raw(self, body: bytes) -> None:
        if self.kind == "mqtt":
            import paho.mqtt.publish as single

            host, port = self.url.split("://")[1].split(":")
            single.single(f"{self.topic}/RAW", body, qos=1, hostname=host, port=int(port))
        else:
            import asyncio

            import nats

            async def go() -> None:
                nc = await nats.connect(self.url)
                await nc.jetstream().publish(f"{self.subject[:-2]}.RAW", body)
                await nc.close()

            asyncio.run(go())


@pytest.fixture(params=["mqtt", "nats"])
def route(request: pytest.FixtureRequest) -> Iterator[Route]:
    url = need_mqtt() if request.param == "mqtt" else need_nats()
    r = Route(request.param, url)
    yield r
    if r.kind == "nats":
        delete_stream(url, r.stream)


class ConsumerProcess:
    """``python -m tests.fakes.consume`` as a process of its own, killed and restarted."""

    def __init__(self, route: Route, db: Path, letters: Path, log: Path) -> None:
        self.cmd = [
            sys.executable,
            "-m",
            "tests.fakes.consume",
            *route.consumer_args(),
            "--db",
            str(db),
            "--dead-letters",
            str(letters),
        ]
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=120)


def test_a_consumer_killed_mid_stream_loses_nothing_and_makes_nothing_twice(
    route: Route, tmp_path: Path
) -> None:
    sink = SqliteSink(tmp_path / "sink.db")
    proc = ConsumerProcess(route, sink.path, tmp_path / "dead.jsonl", tmp_path / "consumer.log")
    n = 3000
    # Mosquitto keeps at most 1000 queued messages per client by default: five readings a
    # message keeps what waits during the restart well under that (a gateway's batch)
    per_message = 5 if route.kind == "mqtt" else 1
    proc.start()
    try:
        # the consumer is subscribed (its session exists) once a first reading comes through:
        # send it until it does (what is sent before the first subscription goes nowhere)
        warm = readings(f"{route.tag}-warm", 1)

        def warmed() -> bool:
            route.publish(warm)
            return sink.count() == 1

        wait_for(warmed, what="the consumer to take a first reading")
        batch = readings(route.tag, n)
        sender = threading.Thread(
            target=route.publish, args=(batch,), kwargs={"per_message": per_message, "rate": 1000}
        )
        sender.start()
        wait_for(lambda: sink.count() > n // 4, what="a quarter of the readings")
        proc.kill()
        at_kill = sink.count()
        proc.start()
        sender.join(timeout=300)
        wait_for(lambda: sink.count() == n + 1, what=f"all {n} readings after the restart")
        assert at_kill < n + 1, "the consumer was killed after the stream had ended"
        assert sink.keys() == {r.key for r in batch} | {f"{route.tag}-warm-0"}
        # the same messages again (a publisher retrying past the stream's deduplication):
        # delivered, taken, and nothing new made
        before = sink.deliveries()
        route.publish(batch, per_message=per_message, dedupe=False)
        wait_for(lambda: sink.deliveries() >= before + n, what="the repeated messages")
        assert sink.count() == n + 1
    finally:
        code = proc.stop()
    assert code == 0
    assert "已停止" in proc.log.read_text()


def test_an_unreadable_message_is_kept_acknowledged_and_does_not_block(
    route: Route, tmp_path: Path
) -> None:
    sink = SqliteSink(tmp_path / "sink.db")
    letters = tmp_path / "dead.jsonl"

    def run_once(publish: list[bytes | Reading], expect: int) -> Pump:
        pump = Pump(sink, JsonlDeadLetters(letters), route.kind)
        consumer = route.consumer(pump)
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,))
        thread.start()
        try:
            wait_for(consumer.connected.is_set, timeout=60, what="the consumer to connect")
            for item in publish:
                if isinstance(item, Reading):
                    route.publish([item])
                else:
                    route.publish_raw(item)
            wait_for(lambda: sink.count() == expect, what=f"{expect} readings")
        finally:
            stop.set()
            thread.join(timeout=60)
        return pump

    good = readings(route.tag, 2)
    first = run_once([b"{not json", b'{"device_id": "X"}', good[0]], expect=1)
    assert first.counts.dead == 2 and first.counts.new == 1
    kept = [json.loads(x) for x in letters.read_text(encoding="utf-8").splitlines()]
    assert [k["body"] for k in kept] == ["{not json", '{"device_id": "X"}']
    assert "不是合法的 JSON" in kept[0]["reason"] and "缺少" in kept[1]["reason"]
    # a second run of the same consumer: the bad messages were acknowledged, not redelivered
    second = run_once([good[1]], expect=2)
    assert second.counts.dead == 0
    assert len(letters.read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("kind", ["mqtt", "nats"])
def test_the_consumer_comes_back_after_a_broker_restart(kind: str, tmp_path: Path) -> None:
    with private_mosquitto() if kind == "mqtt" else private_nats() as broker:
        route = Route(kind, broker.url)
        sink = SqliteSink(tmp_path / "sink.db")
        pump = Pump(sink, JsonlDeadLetters(tmp_path / "dead.jsonl"), kind)
        consumer = route.consumer(pump)
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,))
        thread.start()
        try:
            wait_for(consumer.connected.is_set, timeout=60, what="the consumer to connect")
            route.publish(readings(route.tag, 300))
            wait_for(lambda: sink.count() == 300, what="the first 300 readings")
            broker.restart()
            wait_for(consumer.connected.is_set, timeout=120, what="the consumer to reconnect")
            route.publish(readings(route.tag, 300, start=300))
            wait_for(lambda: sink.count() == 600, what="the readings after the restart")
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive()
        if kind == "mqtt":
            assert pump.counts.connects >= 2  # a new connection, the same session
        assert sink.keys() == {r.key for r in readings(route.tag, 600)}


def test_while_the_store_is_down_messages_wait_unacknowledged_and_arrive_once(
    route: Route, tmp_path: Path
) -> None:
    """The store refuses for a while (StoreError): the batch is retried, nothing is
    acknowledged meanwhile, nothing is lost, and nothing is taken twice, though the outage
    lasts several times JetStream's ack wait (2 s here)."""
    import time

    from store.errors import StoreError

    sink = SqliteSink(tmp_path / "sink.db")
    down_until = [0.0]
    taken: Counter[str] = Counter()

    class Flaky:
        def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
            if time.monotonic() < down_until[0]:
                raise StoreError("数据库暂时不可用")
            taken.update(r.key for r in batch)
            return sink.ingest(batch)

    pump = Pump(Flaky(), JsonlDeadLetters(tmp_path / "dead.jsonl"), route.kind, max_wait_s=1)
    consumer = route.consumer(pump, ack_wait_s=2)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    try:
        wait_for(consumer.connected.is_set, timeout=60, what="the consumer to connect")
        warm = readings(f"{route.tag}-warm", 1)

        def warmed() -> bool:
            route.publish(warm)
            return sink.count() == 1

        wait_for(warmed, what="a first reading")
        down_until[0] = time.monotonic() + 8
        outage = readings(route.tag, 50)
        route.publish(outage)
        wait_for(lambda: sink.count() == 51, what="the readings after the outage")
        assert pump.counts.retries >= 2
        time.sleep(3)  # room for a redelivery to show up, were there one
        assert [taken[r.key] for r in outage] == [1] * 50
    finally:
        stop.set()
        thread.join(timeout=60)
