"""The wire format both brokers carry, and what a consumer does with a message it cannot read.

One message is one JSON object, ``Reading.model_dump_json()``, or a JSON array of them (a
gateway's batch). :func:`decode` turns a message body into the readings it carries and, for
what fails, a Chinese reason; nothing is dropped silently: a bad message or a bad item of an
array becomes a :class:`DeadLetter`, kept by a :class:`DeadLetters` store (the store's log of
rejected readings, or a JSON Lines file) and then
acknowledged, so a poison message never blocks the stream or crashes the consumer."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import TypeAdapter, ValidationError

from domain.alarms import MAX_BATCH, Reading
from domain.messages import validation_message

if TYPE_CHECKING:
    from store import EventStore

log = logging.getLogger(__name__)

#: the longest body kept whole in a dead letter (a longer one is cut, its length noted)
KEEP_CHARS = 20_000


@dataclass(frozen=True)
class DeadLetter:
    """A message (or one item of an array) that could not be ingested, and why (Chinese)."""

    source: str  # "mqtt" or "nats"
    where: str  # the topic or subject it came on
    body: str  # the text as received (undecodable bytes replaced), cut at KEEP_CHARS
    reason: str
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class DeadLetters(Protocol):
    """Where consumers keep what they could not ingest: durable when ``keep`` returns."""

    def keep(self, letters: Sequence[DeadLetter]) -> None: ...


class JsonlDeadLetters:
    """Dead letters appended to a JSON Lines file, flushed to disk before ``keep`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def keep(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(asdict(x), ensure_ascii=False) + "\n" for x in letters)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
        for x in letters:
            log.warning("死信（%s %s）：%s", x.source, x.where, x.reason)


class StoreDeadLetters:
    """Dead letters in the store's log of rejected readings (``rejected_readings``), beside
    the readings the pipeline refused, where officers and the API see them. Keyed by a hash
    of where and what, so a redelivered bad message is kept once."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def keep(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        rows = []
        for x in letters:
            digest = hashlib.sha1(f"{x.source}\n{x.where}\n{x.body}".encode()).hexdigest()
            device = re.split(r"[/.]", x.where.removeprefix("device:"))[-1]
            rows.append(
                {
                    "key": f"dead:{digest}",
                    "device_id": device if _DEVICE.fullmatch(device) else None,
                    "reason": x.reason,
                    "body": {"source": x.source, "where": x.where, "text": x.body},
                }
            )
        with self.store.db.transaction():
            self.store.alarms.reject(rows, now=datetime.now(UTC))
        for x in letters:
            log.warning("死信（%s %s）：%s", x.source, x.where, x.reason)


#: what a device id looks like in the registry
_DEVICE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,63}")


@dataclass
class Decoded:
    readings: list[Reading]
    dead: list[DeadLetter]


def _text(body: bytes) -> str:
    """The body as text a database can keep (undecodable bytes and NUL shown as U+FFFD)."""
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    if len(text) > KEEP_CHARS:
        return text[:KEEP_CHARS] + f"…（共 {len(text)} 字，已截断）"
    return text


def _invalid(error: ValidationError) -> str:
    first = error.errors()[0]
    message = validation_message(first, keys=True)
    more = len(error.errors()) - 1
    return f"读数不合格：{message}" + (f"（另有 {more} 处错误）" if more else "")


_MANY: TypeAdapter[list[Reading]] = TypeAdapter(list[Reading])


def _fast(body: bytes) -> list[Reading] | None:
    """The readings of a well-formed message, parsed by pydantic-core straight from the
    bytes; None when anything is wrong (the slow path then says what, item by item)."""
    try:
        if body.lstrip()[:1] == b"[":
            many = _MANY.validate_json(body)
            return many if len(many) <= MAX_BATCH else None
        return [Reading.model_validate_json(body)]
    except (ValidationError, ValueError):
        return None


def decode(body: bytes, *, source: str, where: str) -> Decoded:
    """The readings a message body carries; what cannot be read becomes a dead letter with a
    Chinese reason (bad UTF-8, bad JSON, neither object nor array, an item failing
    validation). Valid items of an array go through even when others fail."""
    fast = _fast(body)
    if fast is not None:
        return Decoded(fast, [])
    out = Decoded([], [])

    def dead(text: str, reason: str) -> None:
        out.dead.append(DeadLetter(source, where, text, reason))

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        dead(_text(body), f"消息不是 UTF-8 编码的文本（第 {e.start} 字节起无法解码）")
        return out
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        dead(_text(body), f"消息不是合法的 JSON（第 {e.lineno} 行第 {e.colno} 列：{e.msg}）")
        return out
    items = data if isinstance(data, list) else [data]
    if not isinstance(data, list | dict):
        dead(_text(body), "消息应为一个读数对象或读数对象的数组")
        return out
    if len(items) > MAX_BATCH:
        dead(_text(body), f"一条消息最多携带 {MAX_BATCH} 个读数，这条有 {len(items)} 个")
        return out
    for i, item in enumerate(items):
        label = f"第 {i + 1} 个读数" if isinstance(data, list) else "读数"
        if not isinstance(item, dict):
            dead(json.dumps(item, ensure_ascii=False)[:KEEP_CHARS], f"{label}不是 JSON 对象")
            continue
        try:
            out.readings.append(Reading.model_validate(item))
        except ValidationError as e:
            reason = _invalid(e)
            if isinstance(data, list):
                reason = f"{label}：{reason}"
            dead(_text(json.dumps(item, ensure_ascii=False).encode()), reason)
    return out


def encode(readings: Sequence[Reading]) -> bytes:
    """One message for ``readings``: a single object for one, an array for more."""
    if len(readings) == 1:
        return readings[0].model_dump_json(exclude_none=True).encode()
    return ("[" + ",".join(r.model_dump_json(exclude_none=True) for r in readings) + "]").encode()
