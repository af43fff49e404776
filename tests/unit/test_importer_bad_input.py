"""The importer on broken files: every row is created, already present, or rejected with its
row number and reason, and the totals add up to the rows in the file, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from domain.models import MAX_TEXT_CHARS, Scope, Source
from store import EventStore
from store.importer import ImportReport, import_events

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAP = {"text": "内容", "reported_at": "时间", "external_id": "编号"}


def stored(store: EventStore) -> int:
    _, total = store.search(Scope(everything=True), limit=1)
    return total


def assert_all_accounted(report: ImportReport, rows: int) -> None:
    assert report.rows == rows
    assert report.created + report.existing + len(report.rejected) == rows


def test_an_unclosed_quote_mid_csv_loses_only_its_own_row(
    store: EventStore, tmp_path: Path
) -> None:
    lines = ["编号,时间,内容,备注"]
    lines += [f"{i},2024-05-01 08:00:00,井盖丢了第{i}处,无" for i in range(2, 12)]
    lines.append('12,2024-05-01 08:00:00,"路灯不亮,无')  # the quote is never closed
    lines += [f"{i},2024-05-01 08:00:00,占道经营第{i}处,无" for i in range(13, 63)]
    lines.append('63,2024-05-01 08:00:00,"多行\n正文",有')  # a real multi-line value
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert_all_accounted(report, 62)
    assert [r.row for r in report.rejected] == [12]
    assert "引号" in report.rejected[0].reason
    assert report.created == 61 and stored(store) == 61
    after = store.find_by_external_id("web", "13")
    assert after is not None and after.text == "占道经营第13处"
    multi = store.find_by_external_id("web", "63")
    assert multi is not None and multi.text == "多行\n正文"


def good(i: int) -> str:
    row = {"编号": str(i), "时间": "2024-06-01T10:00:00+08:00", "内容": f"占道经营{i}"}
    return json.dumps(row, ensure_ascii=False)


def test_a_jsonl_whose_first_line_is_broken_or_an_array_imports_the_rest(
    store: EventStore, tmp_path: Path
) -> None:
    for name, first, reason in (
        ("broken.jsonl", "{broken", "不是合法的 JSON"),
        ("array.jsonl", '[{"编号": "x"}]', "JSON 对象"),
    ):
        path = tmp_path / name
        path.write_text("\n".join([first, good(1), good(2)]) + "\n", encoding="utf-8")
        report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
        assert_all_accounted(report, 3)
        assert [r.row for r in report.rejected] == [1] and reason in report.rejected[0].reason
        assert report.created + report.existing == 2
    assert stored(store) == 2


def test_a_row_with_text_no_database_can_store_is_rejected_alone(
    store: EventStore, tmp_path: Path
) -> None:
    bad = [
        {"编号": "nul-text", "时间": "2024-06-01 10:00", "内容": "噪音\u0000扰民"},
        {"编号": "nul-id\u0000", "时间": "2024-06-01 10:00", "内容": "噪音扰民"},
        {"编号": "nul-attr", "时间": "2024-06-01 10:00", "内容": "噪音", "备注": "a\u0000"},
        {"编号": "surrogate", "时间": "2024-06-01 10:00", "内容": "噪音", "备注": "\ud800"},
    ]
    lines = [good(1)] + [json.dumps(row) for row in bad] + [good(2), good(3)]
    path = tmp_path / "nul.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert_all_accounted(report, 7)
    assert [r.row for r in report.rejected] == [2, 3, 4, 5]
    assert all("无法保存的字符" in r.reason for r in report.rejected), report.rejected
    assert report.created == 3 and stored(store) == 3
    assert store.find_by_external_id("web", "3") is not None


def test_a_long_text_is_kept_whole_as_the_api_keeps_it(store: EventStore, tmp_path: Path) -> None:
    text = "楼下烧烤店油烟很大。" * 3000  # 30,000 characters
    path = tmp_path / "long.jsonl"
    row = {"编号": "long", "时间": "2024-06-01 10:00", "内容": text}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert (report.created, report.rejected) == (1, [])
    event = store.find_by_external_id("web", "long")
    assert event is not None
    assert event.text == text[:MAX_TEXT_CHARS] and event.attributes["full_text"] == text
