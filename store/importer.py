"""Import events from CSV, JSONL or XLSX files with a column mapping.

Every row is accounted for: created, already present (same source and external id), or
rejected with its row number and the reason. Nothing is dropped silently."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from domain.models import EventCreate, Source
from domain.text import EMPTY_TEXT, fit_text, is_empty
from store.errors import ImportFailed, Unstorable
from store.events import EventStore

#: what a column can be mapped to: every field of an event but its channel and the attributes
#: (unmapped columns become the attributes)
FIELDS = tuple(f for f in EventCreate.model_fields if f not in ("source", "attributes"))
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


@dataclass
class Rejected:
    row: int
    reason: str


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    created: int = 0
    existing: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.rows == self.created + self.existing + len(self.rejected)


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"无法识别的时间「{text[:40]}」")


def clean_text(value: str) -> str:
    """Trim the crawl's runs of tabs and newlines; keep paragraph breaks."""
    value = re.sub(r"[ \t\r\f\v\u3000]*\n[\s\u3000]*", "\n", value)
    return re.sub(r"[ \t\r\f\v\u3000]+", " ", value).strip()


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailed(f"{path.name}：文件编码既不是 UTF-8 也不是 GB18030，请转换后再导入")


#: the error text of a row with no values at all (callers may skip such rows)
BLANK_ROW = "空行"


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any] | str]]]:
    """Header and (row number as a person sees it in the file, row or error text)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        lines = io.StringIO(_decode(path.read_bytes(), path), newline="").readlines()
        delimiter = "\t" if suffix == ".tsv" else ","
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ImportFailed(f"{path.name}：文件是空的") from None
        return header, _csv_rows(lines, reader.line_num, header, delimiter)
    if suffix in (".jsonl", ".ndjson"):
        parsed = list(_json_rows(_decode(path.read_bytes(), path).splitlines()))
        # the columns are the keys of every object in the file, in order of appearance
        header = list(dict.fromkeys(k for _, obj in parsed if isinstance(obj, dict) for k in obj))
        return header, iter(parsed)
    if suffix == ".xlsx":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ImportFailed(f"{path.name}：无法读取 Excel 文件（{exc}）") from exc
        sheet = wb.active
        if sheet is None:
            raise ImportFailed(f"{path.name}：没有工作表")
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]

        def xlsx_rows() -> Iterator[tuple[int, dict[str, Any] | str]]:
            try:
                for n, values in enumerate(rows, start=2):
                    if all(v is None for v in values):
                        yield n, BLANK_ROW
                        continue
                    yield n, dict(zip(header, values, strict=False))
            finally:
                wb.close()

        return header, xlsx_rows()
    raise ImportFailed(
        f"{path.name}：不支持的文件格式 {suffix or '(无扩展名)'}，支持 CSV、JSONL、XLSX"
    )


def _csv_rows(
    lines: list[str], start: int, header: list[str], delimiter: str
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Rows as a spreadsheet shows them (a quoted value may span lines). A quote left open
    swallows the lines after it into one value: that row is refused alone and reading
    resumes on the line after it, so the rows that follow are not lost."""
    n, pos = 1, start
    while pos < len(lines):
        reader = csv.reader(lines[pos:], delimiter=delimiter)
        base = pos
        for values in reader:
            n += 1
            first, pos = pos, base + reader.line_num
            if len(values) == len(header):
                yield n, dict(zip(header, values, strict=True))
            elif pos - first > 1:  # the record ran over several lines with the wrong columns
                yield n, "引号未闭合：这一行的引号没有配对，无法读取（其后各行照常导入）"
                pos = first + 1
                break
            else:
                yield n, f"列数为{len(values)}，表头为{len(header)}列"


def _json_rows(lines: list[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, f"不是合法的 JSON：{exc.msg}（第 {exc.colno} 列）"
            continue
        yield n, obj if isinstance(obj, dict) else "每行应为一个 JSON 对象"


def _event(row: dict[str, Any], mapping: dict[str, str], source: Source) -> EventCreate:
    value: dict[str, Any] = {}
    for target, column in mapping.items():
        raw = row.get(column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value[target] = raw
    if "text" not in value:
        raise ValueError(f"正文列「{mapping['text']}」为空")
    if "reported_at" not in value:
        raise ValueError(f"时间列「{mapping['reported_at']}」为空")
    value["text"] = clean_text(str(value["text"]))
    if is_empty(value["text"]):
        raise ValueError(EMPTY_TEXT)
    value["reported_at"] = parse_time(value["reported_at"])
    for key in ("title", "external_id", "address", "reporter_name", "reporter_phone"):
        if key in value:
            value[key] = clean_text(str(value[key]))
    for key in ("lat", "lon"):
        if key in value:
            value[key] = float(value[key])
    mapped = set(mapping.values())
    attributes = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in row.items()
        if k not in mapped and v not in (None, "")
    }
    # a text longer than an event holds is kept whole, as the API keeps it
    value["text"], value["attributes"], _ = fit_text(value["text"], attributes)
    return EventCreate(source=source, **value)


def import_events(
    store: EventStore,
    path: Path,
    mapping: dict[str, str],
    *,
    source: Source,
    now: datetime,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ImportFailed(f"未知的字段 {', '.join(unknown)}；可映射的字段：{', '.join(FIELDS)}")
    for needed in ("text", "reported_at"):
        if needed not in mapping:
            raise ImportFailed(
                f"必须用 --map {needed}=列名 指定{'正文' if needed == 'text' else '上报时间'}列"
            )
    if not path.exists():
        raise ImportFailed(f"文件不存在：{path}")
    header, rows = read_rows(path)
    missing = [c for c in mapping.values() if c not in header]
    if missing:
        raise ImportFailed(f"文件中没有列 {', '.join(missing)}；现有列：{', '.join(header)}")

    report = ImportReport(file=str(path))
    pending: list[tuple[int, EventCreate]] = []

    def count(results: list[tuple[int, bool]]) -> None:
        for _, created in results:
            if created:
                report.created += 1
            else:
                report.existing += 1

    def flush() -> None:
        try:
            count(store.add_events_bulk([e for _, e in pending], now=now))
        except Unstorable:  # a value the checks let through: find its row, keep the others
            for n, e in pending:
                try:
                    count(store.add_events_bulk([e], now=now))
                except Unstorable as exc:
                    report.rejected.append(Rejected(n, str(exc)))
        pending.clear()

    for n, row in rows:
        report.rows += 1
        if isinstance(row, str):
            report.rejected.append(Rejected(n, row))
            continue
        try:
            pending.append((n, _event(row, mapping, source)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            reason = str(first["msg"]).removeprefix("Value error, ")
            report.rejected.append(Rejected(n, f"{where}: {reason}"))
        except ValueError as exc:
            report.rejected.append(Rejected(n, str(exc)))
        if len(pending) >= batch:
            flush()
        if progress:
            progress(report.rows)
    flush()
    return report
