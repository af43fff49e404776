"""The message brokers tests talk to: the machine's Mosquitto (127.0.0.1:1883) and NATS with
JetStream (127.0.0.1:4222), skipped with a clear message when down; and private instances on
free ports, with their own persistence folders, for tests that stop and restart a broker
(the shared ones are never restarted)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

MQTT_URL = os.environ.get("SANJI_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
NATS_URL = os.environ.get("SANJI_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _reachable(url: str) -> bool:
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def need_mqtt() -> str:
    if not _reachable(MQTT_URL):
        pytest.skip(
            f"Mosquitto is not reachable at {MQTT_URL}: start it with "
            "`mosquitto -d -c /etc/mosquitto/mosquitto.conf` (.ci/run does)"
        )
    return MQTT_URL


def need_nats() -> str:
    if not _reachable(NATS_URL):
        pytest.skip(
            f"NATS is not reachable at {NATS_URL}: start nats-server with -js (.ci/run does)"
        )
    return NATS_URL


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def delete_stream(url: str, stream: str) -> None:
    async def go() -> None:
        import nats

        nc = await nats.connect(url)
        try:
            with suppress(Exception):
                await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(go())


def wait_for(check: Callable[[], bool], *, timeout: float = 180, what: str = "") -> None:
    """Poll ``check`` until it holds: a generous ceiling, not a speed requirement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or check}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateBroker:
    """A broker process of the test's own, stopped and started on the same port and folder."""

    command: list[str]
    port: int
    scheme: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: _reachable(self.url), timeout=30, what=f"{self.url} to listen")

    def stop(self) -> None:
        """A clean shutdown (the broker saves its sessions and streams)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def private_mosquitto() -> Iterator[PrivateBroker]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("mosquitto is not installed: cannot run a private broker")
    root = Path(tempfile.mkdtemp(prefix="sanji-mqtt-"))
    port = free_port()
    conf = root / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {root}/",
        "max_queued_messages 100000",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # keep privileges to write its persistence folder
    conf.write_text("\n".join(lines) + "\n")
    broker = PrivateBroker([binary, "-c", str(conf)], port, "mqtt")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def private_nats() -> Iterator[PrivateBroker]:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        pytest.skip("nats-server is not installed: cannot run a private broker")
    root = Path(tempfile.mkdtemp(prefix="sanji-nats-"))
    port = free_port()
    command = [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root)]
    broker = PrivateBroker(command, port, "nats")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
