"""Parsing regulation texts: numerals, structure, formats."""

from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from knowledge.errors import LawParseError
from knowledge.lawtext import (
    article_key,
    cn_number,
    infer_level,
    infer_region,
    parse_file,
    parse_lines,
    read_manifest,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("九十九", 99),
        ("一百", 100),
        ("一百零三", 103),
        ("一百一十八", 118),
        ("一百二十三", 123),
        ("二百", 200),
        ("两百零一", 201),
        ("一千零五", 1005),
        ("一千二百六十", 1260),
        ("二〇", 20),
        ("零", 0),
    ],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert cn_number(text) == value


def test_article_labels_with_zhi() -> None:
    assert article_key("第十条之一") == (10, 1)
    assert article_key("第一百零三条") == (103, 0)
    with pytest.raises(ValueError):
        article_key("第X条")
    with pytest.raises(ValueError):
        cn_number("十A")


MARKDOWN = """# 测试物权法

2020年5月28日 第十三届全国人民代表大会第三次会议通过

2021年1月1日起施行

<!-- INFO END -->
## 第一分编  通则

### 第一章  一般规定

第一条 为了测试，制定本法。

第二条 物权包括：
（一）所有权；
（二）用益物权。

本法另有规定的，依照其规定。

### 第二章  物权的设立

#### 第一节  不动产登记

第三条 测试事项在测试所在地的机构登记。

#### 第二节  动产交付

第三条之一 动产交付，依照本节规定。

## 第二分编  所有权

### 第三章  一般规定

第四条 所有权人依法享有权利。
"""


def test_markdown_structure_parts_chapters_sections_items_paragraphs() -> None:
    law = parse_lines(MARKDOWN.splitlines(), source="t.md")
    assert law.title == "测试物权法" and law.level == "法律" and law.region == "全国"
    assert law.date == "2021-01-01"
    assert [a.article for a in law.articles] == [
        "第一条",
        "第二条",
        "第三条",
        "第三条之一",
        "第四条",
    ]
    second = law.articles[1]
    assert (
        second.text == "物权包括：\n（一）所有权；\n（二）用益物权。\n本法另有规定的，依照其规定。"
    )
    assert (second.part, second.chapter, second.section) == ("第一分编 通则", "第一章 一般规定", "")
    third = law.articles[2]
    assert (third.chapter, third.section) == ("第二章 物权的设立", "第一节 不动产登记")
    assert (law.articles[3].article_no, law.articles[3].article_sub) == (3, 1)
    assert law.articles[3].section == "第二节 动产交付"
    last = law.articles[4]
    assert (last.part, last.chapter, last.section) == ("第二分编 所有权", "第三章 一般规定", "")


def test_plain_text_with_chapter_lines(tmp_path: Path) -> None:
    path = tmp_path / "重庆市测试条例.txt"
    path.write_text(
        "重庆市测试条例\n\n第一章 总则\n第一条 为了测试。\n第二条 本市适用。\n第二章 附则\n第三条 自公布之日起施行。\n",
        encoding="gb18030",
    )
    law = parse_file(path)
    assert (law.title, law.level, law.region) == ("重庆市测试条例", "地方性法规", "重庆")
    assert [a.chapter for a in law.articles] == ["第一章 总则", "第一章 总则", "第二章 附则"]


def test_docx_ingest(tmp_path: Path) -> None:
    document = docx.Document()
    for line in [
        "重庆市文档测试条例",
        "第一章 总则",
        "第一条 为了规范测试工作，制定本条例。",
        "第二条 测试应当遵守下列规定：",
        "（一）如实记录；",
        "（二）及时报告。",
    ]:
        document.add_paragraph(line)
    path = tmp_path / "doc.docx"
    document.save(str(path))
    law = parse_file(path)
    assert law.title == "重庆市文档测试条例" and len(law.articles) == 2
    assert law.articles[1].text.endswith("（二）及时报告。")


def test_pdf_ingest_rejoins_wrapped_lines(tmp_path: Path) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "law.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("STSong-Light", 12)
    y = 800
    for line in [
        "城市测试管理条例",
        "第一章 总则",
        "第一条 为了加强城市测试管理，",
        "维护市容整洁，制定本条例。",
        "第二条 本条例适用于城市规划区。",
    ]:
        c.drawString(50, y, line)
        y -= 20
    c.save()
    law = parse_file(path)
    assert law.title == "城市测试管理条例" and law.level == "行政法规" and law.region == "全国"
    assert law.articles[0].text == "为了加强城市测试管理，维护市容整洁，制定本条例。"


def test_unparseable_files_fail_loudly(tmp_path: Path) -> None:
    empty = tmp_path / "空.md"
    empty.write_text("# 只有标题\n\n没有条文。\n", encoding="utf-8")
    with pytest.raises(LawParseError, match="没有找到任何「第X条」"):
        parse_file(empty)
    dup = tmp_path / "重复.md"
    dup.write_text("# 重复条例\n第一条 甲。\n第一条 乙。\n", encoding="utf-8")
    with pytest.raises(LawParseError, match="条文编号重复"):
        parse_file(dup)
    with pytest.raises(LawParseError, match="不支持的格式"):
        parse_file(tmp_path / "x.rtf")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf")
    with pytest.raises(LawParseError, match="无法读取 PDF"):
        parse_file(broken)


@pytest.mark.parametrize(
    ("title", "level", "region"),
    [
        ("中华人民共和国消防法", "法律", "全国"),
        ("城市市容和环境卫生管理条例", "行政法规", "全国"),
        ("重庆市消防条例", "地方性法规", "重庆"),
        ("上海市非机动车安全管理条例", "地方性法规", "上海"),
        ("明码标价和禁止价格欺诈规定", "部门规章", "全国"),
        ("中华人民共和国民法典·物权编", "法律", "全国"),
    ],
)
def test_level_and_region_from_the_title(title: str, level: str, region: str) -> None:
    assert (infer_level(title), infer_region(title)) == (level, region)


def test_every_article_of_the_shared_corpus_is_one_unit(shared_data: Path) -> None:
    folder = shared_data / "regulations"
    manifest = read_manifest(folder)
    lines = (folder / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    expected = {
        row["file"]: row
        for row in (dict(zip(header, x.split("\t"), strict=False)) for x in lines[1:])
    }
    total = 0
    for name, row in expected.items():
        law = parse_file(folder / name, manifest)
        assert law.title == row["title"] and law.level == row["level"]
        assert len(law.articles) == int(row["article_count"]), name
        assert law.articles[0].article_no == int(row["first_article"])
        assert law.articles[-1].article_no == int(row["last_article"])
        assert [a.article_no for a in law.articles] == list(
            range(law.articles[0].article_no, law.articles[-1].article_no + 1)
        )
        total += len(law.articles)
    assert total == 5034
    civil = parse_file(folder / "中华人民共和国民法典·物权编.md", manifest)
    a = next(x for x in civil.articles if x.article == "第二百一十五条")
    assert (a.part, a.chapter, a.section) == (
        "第一分编 通则",
        "第二章 物权的设立、变更、转让和消灭",
        "第一节 不动产登记",
    )
