"""``sanji triage --file``: one JSON event per line in, one JSON result per line out, so a
script pays the start-up once. A line that cannot be triaged gives a JSON error object with
its line number and a zh-CN message; the batch goes on. The summary goes to stderr."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from domain.messages import validation_message

if TYPE_CHECKING:
    from agents.runtime import Services
    from domain.models import EventCreate

log = logging.getLogger(__name__)

#: the fields a line may carry besides EventCreate's own: ``district`` is put before the
#: address, as ``sanji triage --district`` does
EXTRA_FIELDS = ("district",)


class LineError(ValueError):
    """This line cannot be triaged; the message is for the officer (zh-CN)."""


@dataclass
class Summary:
    processed: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        return (
            f"批量受理完成：共 {self.processed} 行，成功 {self.processed - self.failed}，"
            f"失败 {self.failed}；用时 {self.seconds:.2f} 秒，{self.per_second:.1f} 件/秒"
        )


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a byte stream with their 1-based numbers."""
    for number, raw in enumerate(stream, 1):
        if raw.strip():
            yield number, raw


def event_of(raw: bytes, number: int, *, source: str, now: datetime) -> EventCreate:
    """The event a line describes, or ``LineError`` saying what is wrong with it."""
    from pydantic import ValidationError

    from domain.models import EventCreate

    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(
            f"不是 UTF-8 编码的文本（第 {exc.start + 1} 个字节起无法解码），请转为 UTF-8 后重试"
        ) from exc
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"不是合法的 JSON（第 {exc.colno} 列：{exc.msg}）") from exc
    if not isinstance(row, dict):
        raise LineError('每行应是一个 JSON 对象，如 {"text": "楼道里有天然气味道"}')
    row = dict(row)
    district = row.pop("district", None)
    if district is not None and not isinstance(district, str):
        raise LineError("district 应为区县名称文本，如 渝中区")
    if district:
        address = row.get("address")
        row["address"] = " ".join(x for x in (district, address) if isinstance(x, str) and x)
    row.setdefault("source", source)
    row.setdefault("reported_at", now)
    if "text" not in row:
        raise LineError("缺少事件文本 text")
    try:
        return EventCreate.model_validate(row)
    except ValidationError as exc:
        raise LineError(
            "输入有误：" + "；".join(validation_message(e, keys=True) for e in exc.errors()[:5])
        ) from exc


def triage_lines(
    built: Services,
    lines: Iterable[tuple[int, bytes]],
    *,
    source: str,
    engine: str,
    emit: Callable[[dict[str, Any]], None],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Summary:
    """Register and draft each line's event through the same path as ``sanji triage``;
    ``emit`` gets each result (``line`` and the draft's fields) or error (``line``,
    ``error``). A database that is down stops the batch (``StoreError``): every further
    line would fail the same way."""
    from domain.errors import SanjiError
    from store import StoreError

    summary = Summary()
    started = time.perf_counter()
    for number, raw in lines:
        summary.processed += 1
        try:
            create = event_of(raw, number, source=source, now=clock())
            event, _ = built.store.add_event(create, now=clock(), actor="cli")
            view = built.dispatcher.triage(event.id, by="cli", engine=engine)  # type: ignore[arg-type]
        except StoreError:
            raise
        except (LineError, SanjiError) as exc:
            summary.failed += 1
            emit({"line": number, "error": str(exc)})
            continue
        except Exception as exc:  # one bad line never ends the batch
            log.exception("line %d failed", number)
            summary.failed += 1
            emit({"line": number, "error": f"处理这一行时出错（{type(exc).__name__}）：{exc}"})
            continue
        emit({"line": number, **view})
    summary.seconds = time.perf_counter() - started
    return summary
