"""What a consumer does between receiving and acknowledging: decoding the wire format,
keeping what cannot be read, retrying while the store is down, isolating a poison reading."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.alarms import IngestResult, Outcome, Reading
from ingest.pump import Message, Pump
from ingest.wire import DeadLetter, JsonlDeadLetters, decode, encode
from store.errors import StoreError

T0 = datetime(2026, 7, 15, 15, 30, tzinfo=UTC)


def reading(i: int, device: str = "YZ-RG-01") -> Reading:
    return Reading(
        message_id=f"m-{i}",
        device_id=device,
        observed_at=T0 + timedelta(seconds=i),
        metrics={"rain_mm_h": float(i)},
    )


class MemorySink:
    def __init__(self) -> None:
        self.keys: dict[str, Reading] = {}
        self.calls: list[int] = []

    def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
        self.calls.append(len(batch))
        out = []
        for r in batch:
            new = r.key not in self.keys
            self.keys.setdefault(r.key, r)
            out.append(IngestResult(key=r.key, outcome=Outcome.NEW if new else Outcome.DUPLICATE))
        return out


class Letters:
    def __init__(self) -> None:
        self.kept: list[DeadLetter] = []

    def keep(self, letters: Sequence[DeadLetter]) -> None:
        self.kept += letters


def test_one_object_and_an_array_round_trip() -> None:
    one = decode(encode([reading(1)]), source="mqtt", where="sanji/readings/YZ-RG-01")
    assert one.readings == [reading(1)] and one.dead == []
    many = decode(encode([reading(i) for i in range(5)]), source="nats", where="x")
    assert many.readings == [reading(i) for i in range(5)] and many.dead == []


def test_unreadable_messages_become_dead_letters_with_chinese_reasons() -> None:
    cases = {
        b"\xff\xfe": "UTF-8",
        b"{not json": "JSON",
        b"42": "读数对象",
        b'{"device_id": "X", "observed_at": "2026-07-15T10:00:00+08:00"}': "至少要有一个指标值",
        b'{"device_id": "X", "observed_at": "yesterday", "metrics": {"a": 1}}': "observed_at",
    }
    for body, words in cases.items():
        d = decode(body, source="mqtt", where="sanji/readings/X")
        assert d.readings == []
        assert len(d.dead) == 1 and words in d.dead[0].reason, (body, d.dead)
        assert d.dead[0].where == "sanji/readings/X"


def test_good_items_of_an_array_go_through_beside_a_bad_one() -> None:
    good = json.loads(encode([reading(1)]))
    body = json.dumps([good, {"device_id": "X"}, "text"]).encode()
    d = decode(body, source="nats", where="sanji.readings.X")
    assert d.readings == [reading(1)]
    assert [x.reason.split("：")[0] for x in d.dead] == ["第 2 个读数", "第 3 个读数不是 JSON 对象"]


def test_a_batch_is_ingested_once_and_a_repeat_within_it_counted_as_duplicate() -> None:
    sink, letters = MemorySink(), Letters()
    pump = Pump(sink, letters, "mqtt")
    messages = [Message(encode([reading(i)]), "t") for i in (1, 2, 2, 3)]
    messages.append(Message(b"oops", "t"))
    assert pump.handle(messages) is True
    assert sink.calls == [3] and set(sink.keys) == {"m-1", "m-2", "m-3"}
    assert len(letters.kept) == 1
    c = pump.counts
    assert (c.messages, c.readings, c.new, c.duplicate, c.dead) == (5, 4, 3, 1, 1)
    assert pump.handle([Message(encode([reading(1), reading(4)]), "t")]) is True
    assert (pump.counts.new, pump.counts.duplicate) == (4, 2)


def test_while_the_store_is_down_the_batch_waits_and_is_not_lost() -> None:
    sink = MemorySink()
    failures = [StoreError("数据库连接失败"), StoreError("数据库连接失败")]

    class Flaky:
        def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
            if failures:
                raise failures.pop()
            return sink.ingest(batch)

    pump = Pump(Flaky(), Letters(), "nats", max_wait_s=0.01)
    assert pump.handle([Message(encode([reading(i) for i in range(10)]), "t")]) is True
    assert len(sink.keys) == 10 and pump.counts.retries == 2


def test_told_to_stop_while_the_store_is_down_nothing_is_acknowledged() -> None:
    class Down:
        def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
            raise StoreError("数据库连接失败")

    stop = threading.Event()
    stop.set()
    pump = Pump(Down(), Letters(), "mqtt", stop=stop)
    assert pump.handle([Message(encode([reading(1)]), "t")]) is False
    assert pump.counts.messages == 0


def test_a_poison_reading_is_isolated_and_kept_the_others_go_through() -> None:
    sink, letters = MemorySink(), Letters()

    class Picky:
        def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
            if any(r.key == "m-6" for r in batch):
                raise ValueError("boom")
            return sink.ingest(batch)

    pump = Pump(Picky(), letters, "mqtt")
    assert pump.handle([Message(encode([reading(i)]), "t") for i in range(10)]) is True
    assert set(sink.keys) == {f"m-{i}" for i in range(10)} - {"m-6"}
    assert len(letters.kept) == 1 and "boom" in letters.kept[0].reason
    assert json.loads(letters.kept[0].body)["message_id"] == "m-6"


def test_dead_letters_are_appended_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "dead" / "readings.jsonl"
    store = JsonlDeadLetters(path)
    store.keep(decode(b"{bad", source="mqtt", where="a").dead)
    store.keep(decode(b"[1]", source="nats", where="b").dead)
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["where"] for x in lines] == ["a", "b"]
    assert lines[0]["body"] == "{bad" and "JSON" in lines[0]["reason"]
