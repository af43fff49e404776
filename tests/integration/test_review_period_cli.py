"""``sanji review period`` as an officer runs it: demo data with a week worth reviewing, the
review printed in Chinese and written as PDF, XLSX and Markdown; bad input refused in Chinese;
``sanji review N`` still reviews one event."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from demo.period_week import last_full_week
from tests.integration.test_cli import sanji


def test_a_period_review_is_printed_and_exported(tmp_path: Path, prepared_data: Path) -> None:
    data = tmp_path / "d"
    shutil.copytree(prepared_data, data)
    env = {"SANJI_DATA_DIR": str(data), "SANJI_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    loaded = sanji("demo", "load", "--count", "20", "--period-district", "綦江区", env_extra=env)
    assert loaded.returncode == 0, loaded.stderr
    year, number, _ = last_full_week(datetime.now(UTC)).isocalendar()
    week = f"{year}-W{number:02d}"
    out = tmp_path / "out"
    args = ("review", "period", "--district", "綦江区", "--week", week, "--out", str(out))
    shown = sanji(*args, "--format", "pdf", "--format", "xlsx", "--format", "md", env_extra=env)
    assert shown.returncode == 0, shown.stderr
    for text in ("綦江区", "共受理事件", "按时办结率", "部门退单", "重复诉求热点", "重点事件"):
        assert text in shown.stdout
    stem = f"复盘-綦江区-{week}"
    assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    md = (out / f"{stem}.md").read_text(encoding="utf-8")
    assert md.startswith(f"# 綦江区 {week} 复盘") and "## 事件时间线" in md
    book = load_workbook(io.BytesIO((out / f"{stem}.xlsx").read_bytes()))
    overview = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert f"共受理事件{overview['事件数']}件" in shown.stdout
    assert overview["事件数"] >= 25

    bad = sanji("review", "period", "--district", "綦江区", "--week", "W28", env_extra=env)
    assert bad.returncode == 1 and "ISO 周" in bad.stderr
    both = sanji("review", "period", "--week", week, "--month", "2026-07", env_extra=env)
    assert both.returncode == 1 and "只指定一种时段" in both.stderr
    wrong = sanji(
        "review", "period", "--district", "綦江区", "--week", week, "--format", "doc", env_extra=env
    )
    assert wrong.returncode == 1 and "不支持的格式" in wrong.stderr
    one = sanji("review", "1", env_extra=env)
    assert one.returncode == 0 and "复盘：事件 1" in one.stdout
