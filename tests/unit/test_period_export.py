"""The period review as files: the PDF's Chinese text is extractable (the font is embedded,
so it renders on a machine without CJK fonts) and says what the facts say; the XLSX has one
sheet per section with Chinese headers and the facts' numbers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from pypdf.generic import ContentStream

from agents.review_period import template_narrative
from demo.load import load_demo
from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from tests.unit.test_period import NOW, QIJIANG, WEEK
from tools.period import PeriodReview, period_review
from tools.period_export import file_stem, to_markdown, to_pdf, to_xlsx
from tools.periods import PeriodQuery


def pdf_text(reader: PdfReader) -> str:
    """The text a PDF viewer copies: each shown string's two-byte codes read through its
    font's ToUnicode map. (pypdf's own ``extract_text`` reads the codes of a font whose
    encoding is an embedded CMap, as fpdf2 writes for a CID-keyed OpenType font, one byte at
    a time, so past its 256th glyph it mixes characters up.)"""
    out = []
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]  # type: ignore[index]
        maps = {}
        for name, font in fonts.items():
            cmap = font.get_object()["/ToUnicode"].get_object().get_data().decode()
            maps[name] = {
                int(a, 16): bytes.fromhex(b).decode("utf-16-be")
                for a, b in re.findall(r"^<([0-9A-F]{4})> <([0-9A-F]+)>$", cmap, re.M)
            }
        current: dict[int, str] = {}
        for operands, op in ContentStream(page.get_contents(), reader).operations:
            if op == b"Tf":
                current = maps[operands[0]]
            elif op == b"Tj":
                raw = operands[0].original_bytes
                out.append(
                    "".join(current[int.from_bytes(raw[i : i + 2])] for i in range(0, len(raw), 2))
                )
    return "".join(out)


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> PeriodReview:
    path: Path = tmp_path_factory.mktemp("export") / "s.db"
    store = EventStore.open(f"sqlite:///{path}", knowledge.store_rules)
    load_demo(store, knowledge, seed=11, now=NOW, count=60, period_week=QIJIANG)
    q = PeriodQuery(jurisdiction=QIJIANG, week=WEEK)
    r = period_review(store, knowledge, Scope(everything=True), q, now=NOW)
    store.close()
    return r


def test_the_pdf_carries_the_narrative_and_the_sections_in_chinese(review: PeriodReview) -> None:
    narrative = template_narrative(review)
    pdf = PdfReader(io.BytesIO(to_pdf(review, narrative)))
    first = pdf.pages[0].extract_text().replace("\x00", "")  # see pdf_text
    assert f"綦江区 {WEEK} 复盘报告" in first
    text = re.sub(r"\s+", "", pdf_text(pdf))
    assert f"綦江区{WEEK}复盘报告" in text
    assert re.sub(r"\s+", "", narrative) in text
    assert f"共受理事件{review.count}件" in text
    for title in (
        "概况",
        "按大类",
        "按街道",
        "部门退单",
        "重复诉求热点",
        "满意度",
        "重点事件",
        "事件时间线",
    ):
        assert title in text
    case = review.cases[0]
    assert case.street_name in text and str(case.event_id) in text
    assert review.hot_spots[0].subtype_name in text
    fonts = {
        str(f["/BaseFont"])
        for page in pdf.pages
        for f in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert any("Noto" in f for f in fonts), fonts  # embedded, not a system font


def test_the_xlsx_has_one_sheet_per_section_with_the_facts(review: PeriodReview) -> None:
    book = load_workbook(io.BytesIO(to_xlsx(review, "综述第一段。\n第二段。")))
    assert book.sheetnames == [
        "综述",
        "概况",
        "按大类",
        "按街道",
        "部门退单",
        "重复诉求热点",
        "满意度",
        "重点事件",
        "事件时间线",
    ]
    assert [c.value for c in book["综述"]["A"]] == ["复盘综述", "综述第一段。", "第二段。"]
    overview = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert overview["事件数"] == review.count and overview["辖区"] == "綦江区"
    assert overview["按时办结率（%，自签收起算）"] == review.on_time_pct
    streets = list(book["按街道"].iter_rows(values_only=True))
    assert streets[0] == ("名称", "本期（件）", "上期（件）", "增减（件）", "增减幅度（%）")
    assert sum(row[1] for row in streets[1:]) == review.count
    departments = list(book["部门退单"].iter_rows(values_only=True))[1:]
    assert [(d[0], d[2]) for d in departments] == [(d.name, d.returned) for d in review.departments]
    cases = list(book["重点事件"].iter_rows(values_only=True))[1:]
    assert [c[0] for c in cases] == [c.event_id for c in review.cases]
    timeline = list(book["事件时间线"].iter_rows(values_only=True))[1:]
    assert len(timeline) == sum(len(c.timeline) for c in review.cases)


def test_markdown_and_file_names(review: PeriodReview) -> None:
    md = to_markdown(review, "综述。")
    assert md.startswith(f"# 綦江区 {WEEK} 复盘") and "## 部门退单" in md
    assert md.count("\n| ") >= len(review.by_category)
    assert file_stem(review) == f"复盘-綦江区-{WEEK}"


def test_an_empty_period_still_makes_both_files(tmp_path: Path, knowledge: Knowledge) -> None:
    store = EventStore.open(f"sqlite:///{tmp_path / 's.db'}", knowledge.store_rules)
    q = PeriodQuery(jurisdiction=QIJIANG, month="2020-02")
    empty = period_review(store, knowledge, Scope(everything=True), q, now=NOW)
    store.close()
    narrative = template_narrative(empty)
    assert empty.count == 0 and "没有可供复盘的事件" in narrative
    text = re.sub(r"\s+", "", pdf_text(PdfReader(io.BytesIO(to_pdf(empty, narrative)))))
    assert "綦江区2020-02复盘报告" in text and "（无）" in text
    book = load_workbook(io.BytesIO(to_xlsx(empty, narrative)))
    assert list(book["重点事件"].iter_rows(values_only=True))[1:] == []
