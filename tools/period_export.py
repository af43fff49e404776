"""A period review as the files officers take to meetings: XLSX (one sheet per section,
Chinese headers) and PDF (Chinese text in Noto Sans SC, shipped by ``pylopdf-fonts-zh-cn``, so
it renders on a machine with no CJK font). Both are built from the same section tables."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from tools.period import PeriodReview

Table = tuple[str, list[str], list[list[Any]]]


def _v(value: Any) -> Any:
    return "—" if value is None else value


def overview(r: PeriodReview) -> list[list[Any]]:
    p = r.period
    return [
        ["辖区", r.jurisdiction_name],
        ["时段", f"{p.label}（{p.first_day}至{p.last_day}）"],
        ["事件数", r.count],
        [f"上期（{p.previous_label}）事件数", r.previous_count],
        ["增减（件）", r.change],
        ["增减幅度（%）", _v(r.change_pct)],
        ["已办结", r.resolved],
        ["未办结", r.open],
        ["按时办结率（%，自签收起算）", _v(r.on_time_pct)],
        ["计时办结件数", r.timed],
        ["按时办结件数", r.on_time],
        ["超时未办结件数", r.overdue_open],
        ["办结用时中位数（小时）", _v(r.median_hours_to_close)],
        ["上期办结用时中位数（小时）", _v(r.previous_median_hours_to_close)],
        ["退单率（%）", _v(r.return_pct)],
        ["平均满意度", _v(r.satisfaction.mean)],
    ]


def sections(r: PeriodReview) -> list[Table]:
    """The review's tables: (title, headers, rows)."""
    trend_head = ["名称", "本期（件）", "上期（件）", "增减（件）", "增减幅度（%）"]

    def trend(rows: Any) -> list[list[Any]]:
        return [[t.name, t.count, t.previous, t.change, _v(t.change_pct)] for t in rows]

    area = "按街道" if r.area_level == "street" else "按区县"
    s = r.satisfaction
    return [
        ("概况", ["指标", "数值"], overview(r)),
        ("按大类", trend_head, trend(r.by_category)),
        (area, trend_head, trend(r.by_area)),
        (
            "部门退单",
            ["部门", "派单（件）", "退单（件）", "退单率（%）", "主要原因"],
            [
                [
                    d.name,
                    d.dispatched,
                    d.returned,
                    d.return_pct,
                    "、".join(f"{x.name}{x.count}件" for x in d.reasons) or "—",
                ]
                for d in r.departments
            ],
        ),
        (
            "重复诉求热点",
            ["街道", "地点", "事件小类", "件数", "事件编号"],
            [
                [h.street_name, h.place, h.subtype_name, h.count, "、".join(map(str, h.event_ids))]
                for h in r.hot_spots
            ],
        ),
        (
            "满意度",
            ["分值", "件数"],
            [[f"{k}分", n] for k, n in s.distribution.items()]
            + [["合计", s.count], ["平均", _v(s.mean)]],
        ),
        (
            "重点事件",
            [
                "编号",
                "标题",
                "街道",
                "小类",
                "状态",
                "主办",
                "退单",
                "超时（小时）",
                "满意度",
                "原因",
            ],
            [
                [
                    c.event_id,
                    c.title,
                    c.street_name,
                    c.subtype_name,
                    c.status,
                    c.department,
                    c.returns,
                    _v(c.hours_late),
                    _v(c.satisfaction),
                    "、".join(c.why),
                ]
                for c in r.cases
            ],
        ),
        (
            "事件时间线",
            ["编号", "时间", "环节", "办理人", "说明"],
            [
                [c.event_id, t.at, t.action, t.actor, t.reason or ""]
                for c in r.cases
                for t in c.timeline
            ],
        ),
    ]


def to_xlsx(r: PeriodReview, narrative: str) -> bytes:
    """One sheet per section, headers in Chinese; the narrative in the first sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "综述"
    first.append(["复盘综述"])
    first["A1"].font = Font(bold=True)
    for line in narrative.splitlines():
        first.append([line])
    first.column_dimensions["A"].width = 120
    for cell in first["A"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for title, head, rows in sections(r):
        sheet = book.create_sheet(title)
        sheet.append(head)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for n, _ in enumerate(head):
            sheet.column_dimensions[chr(ord("A") + n)].width = 16 if n else 28
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def font_path() -> str:
    """Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package (a main dependency)."""
    from pylopdf_fonts_zh_cn import sans_path

    return str(sans_path())


def to_pdf(r: PeriodReview, narrative: str) -> bytes:
    """An A4 report: title, narrative, then each section as a table."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    def para(height: float, text: str, **kw: Any) -> None:
        pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, **kw)

    pdf = FPDF(orientation="portrait", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_font("noto", "", font_path())
    pdf.set_title(f"{r.jurisdiction_name}{r.period.label}复盘")
    pdf.add_page()
    pdf.set_font("noto", size=16)
    para(9, f"{r.jurisdiction_name} {r.period.label} 复盘报告", align="C")
    pdf.set_font("noto", size=10)
    pdf.ln(2)
    for line in narrative.splitlines():
        para(6, line)
        pdf.ln(1)
    head_style = FontFace(emphasis=None, fill_color=(230, 230, 230))
    for title, head, rows in sections(r):
        pdf.ln(3)
        pdf.set_font("noto", size=12)
        para(8, title)
        pdf.set_font("noto", size=8)
        if not rows:
            para(6, "（无）")
            continue
        with pdf.table(headings_style=head_style, line_height=5) as table:
            for values in [head, *rows]:
                row = table.row()
                for value in values:
                    row.cell(str(value))
    return bytes(pdf.output())


def file_stem(r: PeriodReview) -> str:
    """A file name for the review without an extension, e.g. ``复盘-綦江区-2026-W28``."""
    label = r.period.label.replace("至", "_")
    return f"复盘-{r.jurisdiction_name}-{label}"


def to_markdown(r: PeriodReview, narrative: str) -> str:
    """The review as Markdown: the narrative, then each section as a table."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "｜").replace("\n", " ")

    lines = [f"# {r.jurisdiction_name} {r.period.label} 复盘", "", *narrative.splitlines()]
    for title, head, rows in sections(r):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("（无）")
            continue
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
