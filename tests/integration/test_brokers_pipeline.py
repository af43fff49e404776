"""``sanji alarms consume`` over the real perception pipeline and the real brokers: a storm
afternoon of the registered devices is published, the consumer process is killed with SIGKILL
mid-stream and started again, and in the store every reading is there once (rows counted by
key), and the alarms and events are those the same readings make when ingested directly, none
twice. Publishing the same messages again makes nothing new."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from demo.alarms import SimDevice, simulate_day
from domain.alarms import Reading
from knowledge import Knowledge
from store import EventStore
from tests.brokers import need_mqtt, need_nats, unique, wait_for
from tests.integration.test_brokers import Route

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 7, 15)


@pytest.fixture(scope="module")
def storm(knowledge: Knowledge) -> list[Reading]:
    """The registered devices' readings from 14:00 to 17:00 of a storm day."""
    devices = [SimDevice.of(d.model_dump()) for d in knowledge.sensing.devices.values()]
    return [
        r
        for r in simulate_day(devices, DAY)
        if 14 <= r.observed_at.hour < 17  # Beijing time, as simulated
    ]


def counts(url: str, knowledge: Knowledge) -> dict[str, Any]:
    store = EventStore.open(url, knowledge.store_rules)
    try:

        def one(sql: str) -> int:
            row = store.db.fetchone(sql)
            return int(row["n"]) if row else 0

        twice = store.db.fetchall(
            "SELECT device_id, rule_id, opened_at, COUNT(*) AS n FROM alarms "
            "GROUP BY device_id, rule_id, opened_at HAVING COUNT(*) > 1"
        )
        return {
            "readings": one("SELECT COUNT(*) AS n FROM readings"),
            "keys": one("SELECT COUNT(DISTINCT key) AS n FROM readings"),
            "rejected": one("SELECT COUNT(*) AS n FROM rejected_readings"),
            "alarms": one("SELECT COUNT(*) AS n FROM alarms"),
            "events": one("SELECT COUNT(*) AS n FROM events"),
            "alarms_twice": len(twice),
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def reference(
    storm: list[Reading],
    knowledge: Knowledge,
    prepared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The same readings ingested directly, in batches of 500, into a fresh store."""
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.dispatch import Dispatcher
    from agents.perception import Perception
    from tests.conftest import offline_deps

    root = tmp_path_factory.mktemp("reference")
    with offline_deps(root, prepared_data, knowledge, lambda: datetime.now(UTC)) as deps:
        perception = Perception(deps.store, knowledge, Dispatcher(deps, InMemorySaver()))
        for i in range(0, len(storm), 500):
            perception.ingest(storm[i : i + 500])
    return counts(f"sqlite:///{root / 's.db'}", knowledge)


@pytest.fixture(params=["mqtt", "nats"])
def route(request: pytest.FixtureRequest) -> Iterator[Route]:
    from tests.brokers import delete_stream

    url = need_mqtt() if request.param == "mqtt" else need_nats()
    r = Route(request.param, url, tag=unique("p"))
    yield r
    if r.kind == "nats":
        delete_stream(url, r.stream)


def test_sanji_alarms_consume_killed_mid_stream_loses_nothing_and_makes_nothing_twice(
    route: Route,
    storm: list[Reading],
    reference: dict[str, Any],
    knowledge: Knowledge,
    prepared_data: Path,
    tmp_path: Path,
) -> None:
    assert reference["events"] > 0 and reference["rejected"] == 0  # the storm makes events
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    url = f"sqlite:///{tmp_path / 'sanji.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    env |= {"SANJI_DATA_DIR": str(data), "SANJI_DATABASE_URL": url, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "cli", "alarms", "consume", *route.consumer_args(), "--every", "2"]
    log = tmp_path / "consume.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stored() -> int:
        if not (tmp_path / "sanji.db").exists():
            return 0
        try:
            return int(counts(url, knowledge)["readings"])
        except Exception:  # the consumer is still creating the store
            return 0

    # gateways batch: five readings a message keeps Mosquitto's queue (1000 messages by
    # default) far from full while the consumer is down
    per_message = 5 if route.kind == "mqtt" else 1
    proc = start()
    try:
        first = storm[:1]

        def warmed() -> bool:
            route.publish(first)
            return stored() == 1

        wait_for(warmed, timeout=600, what="the consumer to take a first reading")
        rest = storm[1:]
        sender = threading.Thread(
            target=route.publish, args=(rest,), kwargs={"per_message": per_message, "rate": 300}
        )
        sender.start()
        wait_for(lambda: stored() > len(storm) // 4, timeout=600, what="a quarter of the storm")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        at_kill = stored()
        proc = start()
        sender.join(timeout=600)
        wait_for(lambda: stored() == len(storm), timeout=900, what="every reading")
        assert at_kill < len(storm), "the consumer was killed after the stream had ended"
        got = counts(url, knowledge)
        assert got["readings"] == got["keys"] == len(storm)
        assert got["alarms_twice"] == 0
        assert (got["alarms"], got["events"]) == (reference["alarms"], reference["events"])
        # the same messages again: delivered, and nothing new made (the restarted process
        # has printed all it made before we count its duplicates)
        wait_for(
            lambda: _summary(log)["新增"] == len(storm) - at_kill,
            timeout=120,
            what="the restarted consumer's summary",
        )
        before = _summary(log)["重复"]
        route.publish(storm, per_message=per_message, dedupe=False)
        wait_for(
            lambda: _summary(log)["重复"] >= before + len(storm),
            timeout=600,
            what="the repeated messages",
        )
        assert counts(url, knowledge) == got
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, text[-2000:]
    assert "已停止" in text


def _summary(log: Path) -> dict[str, int]:
    """The counts the running consumer printed last (its lines after its start line)."""
    import re

    text = log.read_text(encoding="utf-8", errors="replace").rsplit("开始接收读数", 1)[-1]
    found = re.findall(r"新增 (\d+)，重复 (\d+)", text)
    new, dup = (int(x) for x in found[-1]) if found else (0, 0)
    return {"新增": new, "重复": dup}


def test_simulate_over_http_feeds_the_api_and_a_second_run_makes_nothing_new(
    knowledge: Knowledge, prepared_data: Path, tmp_path: Path
) -> None:
    """``sanji alarms simulate --http``: the storm hour through ``POST /api/v1/alarms`` with an
    integration's API key; the same day again is all duplicates."""
    from tests.live import backend_live

    with backend_live(tmp_path, prepared_data, knowledge, events=0) as live:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
        env |= {"SANJI_API_KEY": live.keys["hotline"], "COLUMNS": "200"}
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "alarms",
            "simulate",
            "--http",
            f"{live.url}/api/v1/alarms",
            "--from",
            "15:00",
            "--to",
            "16:00",
            "--batch",
            "200",
        ]
        first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert first.returncode == 0, first.stderr
        assert "完成：已发送" in first.stdout
        with live.client("hotline") as c:
            alarms = c.get("/api/v1/alarms", params={"limit": 500}).json()
            assert {a["rule_id"] for a in alarms} >= {"AR-RG-01", "AR-WL-01"}
            again = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
            )
            assert again.returncode == 0, again.stderr
            assert c.get("/api/v1/alarms", params={"limit": 500}).json() == alarms
        bad = subprocess.run(
            [*cmd[:6], f"{live.url}/api/v1/alarms"],
            cwd=ROOT,
            env={**env, "SANJI_API_KEY": "wrong"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert bad.returncode == 1 and "服务器拒绝了读数（HTTP 401）" in bad.stderr
