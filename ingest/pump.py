"""What both consumers do with a batch of messages, between receiving and acknowledging:
decode, keep the dead letters, hand the readings to the sink, count.

:meth:`Pump.handle` returns only when every message of the batch is safely somewhere (ingested
by the sink or kept as a dead letter), so the caller may then acknowledge them all. While the
store is down it keeps retrying (the messages stay unacknowledged at the broker, nothing is
lost); a reading that makes the sink fail for another reason is isolated by halving the batch
and kept as a dead letter, so one poison reading never blocks the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from domain.alarms import MAX_BATCH, AlarmSink, IngestResult, Outcome, Reading
from ingest.wire import DeadLetter, DeadLetters, decode
from store.errors import StoreError

log = logging.getLogger(__name__)

#: a batch closes at this many messages…
BATCH_MESSAGES = 500
#: …or this long after its first message arrived
BATCH_SECONDS = 0.05


@dataclass
class Counts:
    """What a consumer has done since it started (the CLI prints these)."""

    messages: int = 0
    readings: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    dead: int = 0
    batches: int = 0
    retries: int = 0
    connects: int = 0
    events: set[int] = field(default_factory=set)

    def summary(self) -> str:
        return (
            f"消息 {self.messages} 条，读数 {self.readings} 个：新增 {self.new}，"
            f"重复 {self.duplicate}，拒收 {self.rejected}，死信 {self.dead}；"
            f"涉及事件 {len(self.events)} 件（批次 {self.batches}，连接 {self.connects} 次）"
        )


@dataclass(frozen=True)
class Message:
    """One message as a consumer received it: its body and where it came from."""

    body: bytes
    where: str


#: told each batch's readings and results after the sink returned (benchmarks measure here)
Observer = Callable[[Sequence[Reading], Sequence[IngestResult]], None]


class Pump:
    def __init__(
        self,
        sink: AlarmSink,
        dead_letters: DeadLetters,
        source: str,
        *,
        stop: threading.Event | None = None,
        observe: Observer | None = None,
        max_wait_s: float = 30.0,
    ) -> None:
        self.sink = sink
        self.dead_letters = dead_letters
        self.source = source
        self.stop = stop or threading.Event()
        self.observe = observe
        self.max_wait_s = max_wait_s
        self.counts = Counts()
        self._lock = threading.Lock()

    def handle(self, messages: Sequence[Message]) -> bool:
        """Ingest one batch. True when every message is ingested or kept (acknowledge them);
        False only when asked to stop while the store was still down (acknowledge nothing)."""
        readings: list[Reading] = []
        dead: list[DeadLetter] = []
        for m in messages:
            d = decode(m.body, source=self.source, where=m.where)
            readings += d.readings
            dead += d.dead
        unique: dict[str, Reading] = {}
        for r in readings:
            unique.setdefault(r.key, r)  # a message redelivered within one batch
        repeats = len(readings) - len(unique)
        batch = list(unique.values())
        results: list[IngestResult] = []
        for start in range(0, len(batch), MAX_BATCH):
            part = batch[start : start + MAX_BATCH]
            done = self._until_stored(partial(self._ingest, part, dead))
            if done is None:
                return False
            results += done
        if dead and self._until_stored(partial(self._keep, dead)) is None:
            return False
        with self._lock:
            c = self.counts
            c.batches += 1
            c.messages += len(messages)
            c.readings += len(readings)
            c.duplicate += repeats
            c.dead += len(dead)
            for res in results:
                if res.outcome is Outcome.NEW:
                    c.new += 1
                elif res.outcome is Outcome.DUPLICATE:
                    c.duplicate += 1
                else:
                    c.rejected += 1
                c.events.update(res.event_ids)
        if self.observe is not None and batch:
            self.observe(batch, results)
        return True

    def _until_stored(self, attempt: Callable[[], list[IngestResult]]) -> list[IngestResult] | None:
        """``attempt()`` until the store takes it; None if told to stop first."""
        wait = min(0.5, self.max_wait_s)
        while True:
            try:
                return attempt()
            except (StoreError, OSError) as e:
                self.counts.retries += 1
                log.error("写入失败（%s），%.1f 秒后重试，消息暂不确认：%s", self.source, wait, e)
                if self.stop.wait(wait):
                    return None
                wait = min(wait * 2, self.max_wait_s)

    def _ingest(self, part: list[Reading], dead: list[DeadLetter]) -> list[IngestResult]:
        found: list[DeadLetter] = []  # fresh on every attempt: a retry adds nothing twice
        results = self._isolating(part, found)
        dead += found
        return results

    def _keep(self, dead: list[DeadLetter]) -> list[IngestResult]:
        self.dead_letters.keep(dead)
        return []

    def _isolating(self, batch: list[Reading], dead: list[DeadLetter]) -> list[IngestResult]:
        """The sink's results for ``batch``; a reading that makes it fail (not because the
        store is down) is found by halving and kept as a dead letter instead."""
        try:
            return list(self.sink.ingest(batch))
        except (StoreError, OSError):
            raise
        except Exception as e:
            if len(batch) == 1:
                log.exception("读数 %s 处理出错，转入死信", batch[0].key)
                dead.append(
                    DeadLetter(
                        self.source,
                        f"device:{batch[0].device_id}",
                        batch[0].model_dump_json(),
                        f"处理这个读数时出错（{type(e).__name__}：{e}）",
                    )
                )
                return []
            half = len(batch) // 2
            return self._isolating(batch[:half], dead) + self._isolating(batch[half:], dead)


def collect(take: Callable[[float], Message | None], *, stop: threading.Event) -> list[Message]:
    """One batch from a blocking source: wait for a first message (up to a second, so a stop
    is noticed), then take more until BATCH_MESSAGES or BATCH_SECONDS after the first."""
    first = take(1.0)
    if first is None:
        return []
    batch = [first]
    deadline = time.monotonic() + BATCH_SECONDS
    while len(batch) < BATCH_MESSAGES and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        m = take(left)
        if m is None:
            break
        batch.append(m)
    return batch
