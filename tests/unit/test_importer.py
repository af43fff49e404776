"""Import of CSV, JSONL and XLSX: every row accounted for, bad rows named with the reason."""

import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from domain.models import Scope, Source
from store import EventStore
from store.errors import ImportFailed
from store.importer import import_events, parse_time

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAP = {"text": "内容", "title": "标题", "reported_at": "时间", "external_id": "编号"}
HEADER = "编号,标题,时间,内容,点赞数\n"


def test_bad_rows_are_reported_with_their_line_and_reason(
    store: EventStore, tmp_path: Path
) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        HEADER
        + '1,路灯不亮,2024/5/1 20:00:00,"\n\t\t小区门口路灯坏了\n\t",3\n'
        + "2,空的,2024-05-02 08:00:00,,0\n"
        + "3,时间错,昨天下午,井盖丢了,1\n"
        + "4,列数不对,2024-05-03\n"
        + "1,重复编号,2024/5/1 21:00:00,同一编号再来一次,0\n"
        + "5,好的,2024年5月4日 09:30,垃圾没人收,2\n",
        encoding="utf-8",
    )
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert (report.rows, report.created, report.existing) == (6, 2, 1)
    assert [(r.row, r.reason) for r in report.rejected] == [
        (3, "正文列「内容」为空"),
        (4, "无法识别的时间「昨天下午」"),
        (5, "列数为3，表头为5列"),
    ]
    assert report.accounted
    _, total = store.search(Scope(everything=True), limit=10)
    assert total == 2
    first = store.find_by_external_id("web", "1")
    assert first is not None and first.text == "小区门口路灯坏了"
    assert first.attributes == {"点赞数": "3"}
    assert first.reported_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # Beijing time


def test_gb18030_csv_is_read(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "9,噪音,2024-06-01 22:00:00,楼下烧烤店太吵,0\n").encode("gb18030"))
    report = import_events(store, path, MAP, source=Source.HOTLINE, now=NOW)
    assert report.created == 1 and store.find_by_external_id("hotline", "9") is not None


def test_jsonl_with_a_broken_line(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    good = {"编号": "a", "标题": "t", "时间": "2024-06-01T10:00:00+08:00", "内容": "占道经营"}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n{broken\n[1, 2]\n", encoding="utf-8")
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert report.created == 1
    assert [r.row for r in report.rejected] == [2, 3]
    assert (
        "不是合法的 JSON" in report.rejected[0].reason and "JSON 对象" in report.rejected[1].reason
    )


def test_xlsx_with_real_datetimes(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "标题", "时间", "内容"])
    ws.append([101, "积水", datetime(2024, 7, 1, 18, 30), "下穿道积水很深"])
    ws.append([None, None, None, None])
    ws.append([102, "超长", datetime(2024, 7, 1, 19, 0), "很" * 30_000])
    wb.save(path)
    report = import_events(store, path, MAP, source=Source.WEB, now=NOW)
    assert report.created == 2 and report.accounted
    assert [(r.row, r.reason) for r in report.rejected] == [(3, "空行")]
    long = store.find_by_external_id("web", "102")
    assert long is not None and long.attributes["full_text"] == "很" * 30_000


def test_file_level_problems_fail_clearly(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(ImportFailed, match="文件中没有列 正文"):
        import_events(
            store, path, {"text": "正文", "reported_at": "时间"}, source=Source.WEB, now=NOW
        )
    with pytest.raises(ImportFailed, match="未知的字段 body"):
        import_events(
            store,
            path,
            {"body": "内容", "text": "内容", "reported_at": "时间"},
            source=Source.WEB,
            now=NOW,
        )
    with pytest.raises(ImportFailed, match="reported_at"):
        import_events(store, path, {"text": "内容"}, source=Source.WEB, now=NOW)
    (tmp_path / "x.txt").write_text("a", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"不支持的文件格式 \.txt"):
        import_events(store, tmp_path / "x.txt", MAP, source=Source.WEB, now=NOW)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81\x00" * 10)
    with pytest.raises(ImportFailed, match="编码"):
        import_events(store, tmp_path / "bin.csv", MAP, source=Source.WEB, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019/4/25 9:32:09", datetime(2019, 4, 25, 9, 32, 9)),
        ("2019-08-23 12:22:00", datetime(2019, 8, 23, 12, 22)),
        ("2019/09/05 12:29:01", datetime(2019, 9, 5, 12, 29, 1)),
        ("2019年9月5日", datetime(2019, 9, 5)),
    ],
)
def test_time_formats_seen_in_real_files(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
