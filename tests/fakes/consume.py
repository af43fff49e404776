"""A consumer process over the test sink (tests/fakes/sink.py), for the kill-and-restart tests
of the consumers alone: ``python -m tests.fakes.consume --mqtt URL --db PATH ...``. The
same tests run ``sanji alarms consume`` over the real pipeline."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from ingest.mqtt import MqttConsumer
from ingest.nats import NatsConsumer
from ingest.pump import Pump
from ingest.wire import JsonlDeadLetters
from tests.fakes.sink import SqliteSink


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mqtt")
    p.add_argument("--nats")
    p.add_argument("--topic", default="sanji/readings")
    p.add_argument("--client-id", default="sanji-test-consumer")
    p.add_argument("--stream", default="SANJI_READINGS")
    p.add_argument("--subject", default="sanji.readings.>")
    p.add_argument("--durable", default="sanji-test")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--dead-letters", type=Path, required=True)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pump = Pump(SqliteSink(a.db), JsonlDeadLetters(a.dead_letters), "mqtt" if a.mqtt else "nats")
    if a.mqtt:
        MqttConsumer(a.mqtt, pump, topic=f"{a.topic}/#", client_id=a.client_id).run(stop)
    else:
        NatsConsumer(a.nats, pump, stream=a.stream, subject=a.subject, durable=a.durable).run(stop)
    print(f"已停止。{pump.counts.summary()}", flush=True)


if __name__ == "__main__":
    main()
