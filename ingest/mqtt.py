"""The MQTT consumer: readings from IoT gateways, at least once, acknowledged after ingest.

Library: paho-mqtt 2.x rather than aiomqtt. paho's ``manual_ack=True`` lets us send each
PUBACK ourselves, only after ``sink.ingest`` returned (aiomqtt wraps paho and is built around
auto-acknowledging iteration); its network thread keeps the connection and reconnects on its
own; and the pipeline behind the sink (store, rules, drafts) is synchronous, so a plain thread
that collects a batch, ingests it and acknowledges it is simpler than an event loop bridging
into blocking code.

Durability: QoS 1 subscription, MQTT 5 persistent session (``clean_start=False``, a fixed
client id and a session expiry), so what is published while the consumer is down waits at the
broker and is delivered when it comes back; messages delivered but not yet acknowledged when
it died are delivered again (the sink is idempotent: nothing is made twice). An
acknowledgement is sent only on the connection its message came on: after a reconnect the
broker redelivers the rest itself.

Broker limits worth knowing: Mosquitto keeps at most ``max_queued_messages`` (1000 by
default) per client beyond those in flight and drops the rest. While we are connected, the
receive maximum below lets up to 65,535 more wait in our inbox; while we are away, only the
queue is left: raise it for a fleet of devices, or have gateways send arrays of readings (one
message, many readings)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.pump import Message, Pump, collect

log = logging.getLogger(__name__)

TOPIC = "sanji/readings/#"
CLIENT_ID = "sanji-alarms-consumer"
#: how long the broker keeps the session (subscription and queued messages) while we are away
SESSION_EXPIRY_S = 7 * 24 * 3600
#: how many unacknowledged QoS 1 messages the broker may send us at once (MQTT 5 flow control):
#: the most, so that what waits for us sits in our inbox rather than in the broker's queue,
#: which Mosquitto caps (``max_queued_messages``, 1000 by default) by dropping messages
RECEIVE_MAXIMUM = 65535


class BadUrl(ValueError):
    """A broker address that cannot be used (the message is for officers, in Chinese)."""


@dataclass(frozen=True)
class MqttAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttAddress:
        u = urlparse(url if "://" in url else f"mqtt://{url}")
        if u.scheme not in ("mqtt", "tcp") or not u.hostname:
            raise BadUrl(
                f"MQTT 地址应形如 mqtt://主机:端口（如 mqtt://127.0.0.1:1883），收到「{url}」"
            )
        try:
            port = u.port or 1883
        except ValueError as e:
            raise BadUrl(f"MQTT 地址的端口不对：「{url}」") from e
        return cls(
            u.hostname,
            port,
            unquote(u.username) if u.username else None,
            unquote(u.password) if u.password else None,
        )


def topic_for(device_id: str, prefix: str = "sanji/readings") -> str:
    return f"{prefix}/{device_id}"


def new_client(address: MqttAddress, client_id: str, *, manual_ack: bool = False) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.reconnect_delay_set(min_delay=1, max_delay=15)
    return client


class MqttConsumer:
    """Subscribes to ``topic`` and feeds ``pump`` batches until ``stop`` is set."""

    def __init__(
        self,
        url: str,
        pump: Pump,
        *,
        topic: str = TOPIC,
        client_id: str = CLIENT_ID,
    ) -> None:
        self.address = MqttAddress.parse(url)
        self.pump = pump
        self.topic = topic
        self.client_id = client_id
        self._inbox: queue.Queue[tuple[int, int, int, Message]] = queue.Queue()
        self._generation = 0  # the connection a message came on (acks go on the same one)
        self._lock = threading.Lock()
        self._client: paho.Client | None = None
        self.connected = threading.Event()

    # paho's network thread
    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MQTT 服务器拒绝连接：%s", reason)
            return
        with self._lock:
            self._generation += 1
        self.pump.counts.connects += 1
        resumed = "，续用原会话" if flags.session_present else "，新会话"
        log.info("已连接 MQTT %s:%s%s", self.address.host, self.address.port, resumed)
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if reason.is_failure:
            log.warning("与 MQTT 服务器的连接断开（%s），正在重连…", reason)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            generation = self._generation
        self._inbox.put((generation, msg.mid, msg.qos, Message(bytes(msg.payload), msg.topic)))

    # the consumer's thread
    def connect(self) -> None:
        """Open the session and start receiving into the inbox (nothing is acknowledged until
        :meth:`run` has ingested it). ``sanji alarms consume`` calls this before building the
        pipeline, so a restarted consumer is back at the broker within a second or two, not
        after the seconds the pipeline takes to build."""
        if self._client is not None:
            return
        client = new_client(self.address, self.client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        client.connect_async(
            self.address.host, self.address.port, keepalive=30, clean_start=False, properties=props
        )
        client.loop_start()
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def run(self, stop: threading.Event) -> None:
        self.pump.stop = stop
        self.connect()
        client = self._client
        assert client is not None
        try:
            items: list[tuple[int, int, int, Message]] = []

            def take(timeout: float) -> Message | None:
                try:
                    item = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    return None
                items.append(item)
                return item[3]

            while not stop.is_set():
                items.clear()
                batch = collect(take, stop=stop)
                if not batch or not self.pump.handle(batch):
                    continue
                with self._lock:
                    current = self._generation
                for generation, mid, qos, _m in items:
                    if generation == current and qos > 0:
                        client.ack(mid, qos)
        finally:
            self.close()
