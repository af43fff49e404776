"""The NATS JetStream consumer: readings from Sanji's durable internal stream.

Stream ``SANJI_READINGS`` on subjects ``sanji.readings.>`` (file storage, created when
missing, publishers' ``Nats-Msg-Id`` deduplicated for two minutes); a durable pull consumer
with explicit acks: we fetch up to BATCH_MESSAGES messages (what is waiting, and what arrives
within BATCH_SECONDS), hand them to the pump and acknowledge each only after the sink
returned. A message not acknowledged (the consumer died, or the store stayed down past
``ack_wait``) is delivered again; the sink is idempotent, so nothing is made twice.

nats-py is asyncio; the pump (store, rules, drafts) is blocking, so it runs in a worker
thread while the event loop keeps the connection alive (pings, reconnects)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ingest.pump import BATCH_MESSAGES, BATCH_SECONDS, Message, Pump

log = logging.getLogger(__name__)

STREAM = "SANJI_READINGS"
SUBJECT = "sanji.readings.>"
DURABLE = "sanji-alarms"
#: how long JetStream waits for an acknowledgement before delivering a message again
ACK_WAIT_S = 30.0


def subject_for(device_id: str, prefix: str = "sanji.readings") -> str:
    return f"{prefix}.{device_id}"


def check_url(url: str) -> str:
    from ingest.mqtt import BadUrl

    if not url.startswith(("nats://", "tls://")) or len(url.split("://", 1)[1]) == 0:
        raise BadUrl(f"NATS 地址应形如 nats://主机:端口（如 nats://127.0.0.1:4222），收到「{url}」")
    return url


async def connect(url: str, *, name: str, stop: threading.Event | None = None) -> NATS:
    """A connection that reconnects forever once made; the first connect is retried too
    (every few seconds, until ``stop``), so a consumer may start before the broker."""

    nc: NATS

    async def disconnected() -> None:
        if not nc.is_closed:
            log.warning("与 NATS 服务器的连接断开，正在重连…")

    async def reconnected() -> None:
        log.info("已重新连接 NATS")

    async def error(e: Exception) -> None:
        log.warning("NATS：%s", e)

    wait = 1.0
    while True:
        nc = NATS()
        try:
            await nc.connect(
                check_url(url),
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
            return nc
        except (OSError, NatsTimeout, nats.errors.NoServersError) as e:
            if stop is None or stop.is_set():
                raise
            log.warning("连不上 NATS %s（%s），%.0f 秒后重试", url, e, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 15)


async def ensure_stream(js: JetStreamContext, stream: str, subject: str) -> None:
    """The stream, created when missing (file storage, a week of readings, two minutes of
    publisher deduplication)."""
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=[subject],
                storage=StorageType.FILE,
                max_age=7 * 24 * 3600,
                duplicate_window=120,
            )
        )
        log.info("已创建 JetStream 流 %s（%s）", stream, subject)


class NatsConsumer:
    """Pulls from the durable consumer and feeds ``pump`` batches until ``stop`` is set."""

    def __init__(
        self,
        url: str,
        pump: Pump,
        *,
        stream: str = STREAM,
        subject: str = SUBJECT,
        durable: str = DURABLE,
        ack_wait_s: float = ACK_WAIT_S,
    ) -> None:
        self.url = check_url(url)
        self.ack_wait_s = ack_wait_s
        self.pump = pump
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.connected = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.pump.stop = stop
        asyncio.run(self._main(stop))

    async def _fetch_batch(self, psub: Any) -> list[Msg]:
        """What is waiting, up to BATCH_MESSAGES; when that is only a few (a quiet stream),
        what else arrives within BATCH_SECONDS. A fetch is only sent for messages known to be waiting, or with
        a full second to linger: a pull request that times out on the client may still be
        answered by the server, and its messages would then wait ``ack_wait`` to come back."""
        try:
            msgs = list(await psub.fetch(batch=BATCH_MESSAGES, timeout=1.0))
        except (NatsTimeout, TimeoutError):
            return []
        if len(msgs) < BATCH_MESSAGES // 10:
            await asyncio.sleep(BATCH_SECONDS)
            try:
                waiting = (await psub.consumer_info()).num_pending or 0
                if waiting:
                    more = min(waiting, BATCH_MESSAGES - len(msgs))
                    msgs += await psub.fetch(batch=more, timeout=1.0)
            except (NatsTimeout, TimeoutError):
                pass
        return msgs

    async def _handle(self, batch: list[Message], msgs: list[Msg]) -> bool:
        """The pump's verdict on a batch, telling JetStream every few seconds that the batch
        is still being worked on (while the store is down the pump waits), so that after
        ``ack_wait`` it is not handed to another instance pulling from the same durable."""
        work = asyncio.ensure_future(asyncio.to_thread(self.pump.handle, batch))
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(work), timeout=self.ack_wait_s / 3)
            except TimeoutError:
                for m in msgs:
                    try:
                        await m.in_progress()
                    except Exception as e:  # redelivered later; the sink makes nothing twice
                        log.warning("无法延长消息的确认期限（%s）", e)
                        break

    async def _main(self, stop: threading.Event) -> None:
        nc = await connect(self.url, name=f"sanji-consumer-{self.durable}", stop=stop)
        self.pump.counts.connects += 1
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.stream, self.subject)
            psub = await js.pull_subscribe(
                self.subject,
                durable=self.durable,
                stream=self.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.ack_wait_s,
                    max_ack_pending=20_000,
                ),
            )
            log.info("已连接 NATS，流 %s，持久消费者 %s", self.stream, self.durable)
            self.connected.set()
            while not stop.is_set():
                try:
                    msgs = await self._fetch_batch(psub)
                except Exception as e:  # a broker restart: the client reconnects by itself
                    log.warning("从 NATS 拉取失败（%r），稍后重试", e)
                    await asyncio.sleep(1)
                    continue
                if not msgs:
                    continue
                batch = [Message(m.data, m.subject) for m in msgs]
                if not await self._handle(batch, msgs):
                    break
                for m in msgs:
                    try:
                        await m.ack()
                    except Exception as e:  # redelivered later; the sink makes nothing twice
                        log.warning("确认消息失败（%s），该消息稍后会重投", e)
                try:
                    await nc.flush(timeout=5)
                except Exception as e:
                    log.warning("确认未能送达 NATS（%s），这些消息稍后会重投", e)
        finally:
            self.connected.clear()
            await nc.close()
