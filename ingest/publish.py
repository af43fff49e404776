"""Publishing readings the way devices and gateways do: to MQTT (QoS 1), to NATS JetStream
(each message acknowledged by the stream, ``Nats-Msg-Id`` set for deduplication) or to the
HTTP API. Used by ``sanji alarms simulate``, the tests and the benchmark.

:func:`paced` spaces the messages out: ``speed`` replays the day's clock N times faster than
real time, ``rate`` caps readings per second (0: no limit)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from domain.alarms import Reading
from ingest.wire import encode

#: told after each message with how many readings have gone so far
Progress = Callable[[int], None]


def chunks(readings: Sequence[Reading], size: int) -> Iterator[list[Reading]]:
    """Readings in messages of ``size`` (1: one object per message; more: arrays)."""
    for i in range(0, len(readings), max(size, 1)):
        yield list(readings[i : i + max(size, 1)])


def paced(
    readings: Sequence[Reading],
    *,
    batch: int = 1,
    speed: float = 0.0,
    rate: float = 0.0,
    stop: threading.Event | None = None,
) -> Iterator[list[Reading]]:
    """The messages to send, each yielded when it is due."""
    if not readings:
        return
    started = time.monotonic()
    first = readings[0].observed_at
    sent = 0
    for chunk in chunks(readings, batch):
        if stop is not None and stop.is_set():
            return
        due = started
        if speed > 0:
            due = max(due, started + (chunk[0].observed_at - first).total_seconds() / speed)
        if rate > 0:
            due = max(due, started + sent / rate)
        wait = due - time.monotonic()
        if wait > 0:
            if stop is not None:
                if stop.wait(wait):
                    return
            else:
                time.sleep(wait)
        sent += len(chunk)
        yield chunk


def publish_mqtt(
    url: str,
    messages: Iterable[list[Reading]],
    *,
    prefix: str = "sanji/readings",
    client_id: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Publish at QoS 1 to ``{prefix}/{device_id}`` (an array goes to its first reading's
    device); returns the readings sent once the broker acknowledged them all."""
    import uuid

    from ingest.mqtt import MqttAddress, new_client

    address = MqttAddress.parse(url)
    client = new_client(address, client_id or f"sanji-sim-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(15):
            raise ConnectionError(f"连不上 MQTT 服务器 {address.host}:{address.port}")
        pending = []
        sent = 0
        for chunk in messages:
            info = client.publish(f"{prefix}/{chunk[0].device_id}", encode(chunk), qos=1)
            pending.append(info)
            sent += len(chunk)
            if len(pending) >= 5000:
                for p in pending:
                    p.wait_for_publish(60)
                pending.clear()
            if progress is not None:
                progress(sent)
        for p in pending:
            p.wait_for_publish(60)
            if not p.is_published():
                raise ConnectionError("MQTT 服务器未确认全部消息")
        return sent
    finally:
        client.disconnect()
        client.loop_stop()


def publish_nats(
    url: str,
    messages: Iterable[list[Reading]],
    *,
    stream: str = "SANJI_READINGS",
    subject: str = "sanji.readings.>",
    progress: Progress | None = None,
    dedupe: bool = True,
) -> int:
    """Publish to ``{subject prefix}.{device_id}`` on the stream (created when missing);
    returns the readings sent once the stream acknowledged them all. ``dedupe`` sets
    ``Nats-Msg-Id`` to the reading's key on one-reading messages, so the stream itself drops
    a resend within its duplicate window."""
    return asyncio.run(_publish_nats(url, messages, stream, subject, progress, dedupe))


async def _publish_nats(
    url: str,
    messages: Iterable[list[Reading]],
    stream: str,
    subject: str,
    progress: Progress | None,
    dedupe: bool,
) -> int:
    from ingest.nats import connect, ensure_stream

    prefix = subject.removesuffix(".>")
    nc = await connect(url, name="sanji-simulate")
    try:
        js = nc.jetstream(publish_async_max_pending=2000)
        await ensure_stream(js, stream, subject)
        sent = 0
        futures = []
        for chunk in messages:
            headers = {"Nats-Msg-Id": chunk[0].key} if dedupe and len(chunk) == 1 else None
            futures.append(
                await js.publish_async(
                    f"{prefix}.{chunk[0].device_id}", encode(chunk), headers=headers
                )
            )
            sent += len(chunk)
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures.clear()
            if progress is not None:
                progress(sent)
            await asyncio.sleep(0)
        await asyncio.gather(*futures)
        return sent
    finally:
        await nc.close()


def publish_http(
    url: str,
    messages: Iterable[list[Reading]],
    *,
    api_key: str | None = None,
    progress: Progress | None = None,
) -> int:
    """POST each message (a JSON array of readings) to ``url``; returns the readings the
    server accepted (it answers 2xx), failing on the first refusal."""
    import httpx

    headers = {"content-type": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    sent = 0
    with httpx.Client(timeout=60) as client:
        for chunk in messages:
            body = b"[" + b",".join(encode([r]) for r in chunk) + b"]"
            answer = client.post(url, content=body, headers=headers)
            if answer.status_code >= 300:
                raise ConnectionError(
                    f"服务器拒绝了读数（HTTP {answer.status_code}）：{answer.text[:300]}"
                )
            sent += len(chunk)
            if progress is not None:
                progress(sent)
    return sent
