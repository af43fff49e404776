"""Parse regulation texts into articles: Markdown (the national database's export format and
Sanji's own digests), plain text, DOCX and PDF.

Every article becomes one ``Article`` with its law title, level, region, 编/章/节, label
(第十条之一), number (10) and sub-number (1), and the text of all its paragraphs and items."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.errors import LawParseError

DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
UNITS = {"十": 10, "百": 100, "千": 1000}
NUM = "零〇一二两三四五六七八九十百千"
ARTICLE = re.compile(rf"^\s*(第([{NUM}]+)条(?:之([{NUM}]+))?)(?:[ \t\u3000]+|$)(.*)$")
#: an article as officers write it: 《法规名称》第X条 (or 第X条之Y): the title, the article
CITATION = re.compile(rf"《([^》]+)》(第[{NUM}]+条(?:之[{NUM}]+)?)")
HEADING = re.compile(rf"^\s*#*\s*(第[{NUM}]+(分编|编|章|节))[ \t\u3000]*(.*)$")
DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
LEVELS = ("法律", "行政法规", "部门规章", "地方性法规")


def cn_number(text: str) -> int:
    """Chinese numerals to an integer: 十 → 10, 一百二十三 → 123, 一千零五 → 1005, 二〇 → 20."""
    if not text or any(ch not in DIGITS and ch not in UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(ch in UNITS for ch in text):  # positional: 二〇二三
        return int("".join(str(DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * UNITS[ch]
            digit = None
    return total + (digit or 0)


def article_key(label: str) -> tuple[int, int]:
    """第十条之一 → (10, 1); 第一百零三条 → (103, 0)."""
    m = ARTICLE.match(label)
    if not m:
        raise ValueError(f"not an article label: {label!r}")
    return cn_number(m.group(2)), cn_number(m.group(3)) if m.group(3) else 0


@dataclass
class Article:
    title: str
    article: str  # as written: 第十五条, 第十条之一
    article_no: int
    article_sub: int
    text: str
    level: str
    region: str
    part: str = ""  # 编 / 分编
    chapter: str = ""  # 章
    section: str = ""  # 节
    date: str = ""  # latest promulgation / revision / effective date in the header (YYYY-MM-DD)
    source: str = ""
    digest: bool = False

    @property
    def uid(self) -> str:
        return f"{'digest' if self.digest else 'law'}:{self.title}:{self.article}"

    @property
    def location(self) -> str:
        return " ".join(p for p in (self.part, self.chapter, self.section) if p)


@dataclass
class Law:
    title: str
    level: str
    region: str
    date: str
    source: str
    digest: bool
    articles: list[Article] = field(default_factory=list)


def _local_place(title: str) -> str | None:
    """The city or province a local regulation belongs to (重庆市…条例 → 重庆), else None."""
    if title.startswith(("中华人民共和国", "城市", "城镇", "城乡")):
        return None
    m = re.match(r"^(重庆|上海|北京|天津|[\u4e00-\u9fa5]{2,3}?)(市|省|自治区)", title)
    return m.group(1) if m else None


def infer_level(title: str) -> str:
    if _local_place(title):
        return "地方性法规"
    if (title.endswith("法") and not title.endswith("办法")) or "法典" in title:
        return "法律"
    if title.endswith("条例"):
        return "行政法规"
    return "部门规章"


def infer_region(title: str) -> str:
    return _local_place(title) or "全国"


def _latest_date(lines: list[str]) -> str:
    dates = [f"{y}-{int(m):02d}-{int(d):02d}" for line in lines for y, m, d in DATE.findall(line)]
    return max(dates) if dates else ""


def parse_lines(
    lines: list[str],
    *,
    source: str,
    title: str | None = None,
    level: str | None = None,
    region: str | None = None,
    date: str = "",
    digest: bool = False,
) -> Law:
    """Articles from lines of text. Without an explicit title the first non-empty line is it.

    Lines before the first heading or article are the header (promulgation and revision
    history); the latest date there becomes the law's date."""
    body = [line.rstrip() for line in lines]
    i = 0
    if title is None:
        while i < len(body) and not body[i].strip():
            i += 1
        if i == len(body):
            raise LawParseError(f"{source}: 文件为空，找不到法规标题")
        title = body[i].strip().lstrip("#").strip()
        i += 1
    header: list[str] = []
    while i < len(body) and not (ARTICLE.match(body[i]) or HEADING.match(body[i])):
        if "INFO END" not in body[i]:
            header.append(body[i])
        i += 1
    law = Law(
        title=title,
        level=level or infer_level(title),
        region=region or infer_region(title),
        date=date or _latest_date(header),
        source=source,
        digest=digest,
    )
    part = chapter = section = ""
    current: Article | None = None
    for line in body[i:]:
        heading = HEADING.match(line)
        if heading and (line.lstrip().startswith("#") or not ARTICLE.match(line)):
            name = " ".join(x for x in (heading.group(1), heading.group(3).strip()) if x)
            kind = heading.group(2)
            if kind in ("编", "分编"):
                part, chapter, section = name, "", ""
            elif kind == "章":
                chapter, section = name, ""
            else:
                section = name
            current = None
            continue
        m = ARTICLE.match(line)
        if m:
            label = m.group(1)
            no, sub = article_key(label)
            current = Article(
                title=law.title,
                article=label,
                article_no=no,
                article_sub=sub,
                text=m.group(4).strip(),
                level=law.level,
                region=law.region,
                part=part,
                chapter=chapter,
                section=section,
                date=law.date,
                source=source,
                digest=digest,
            )
            law.articles.append(current)
            continue
        text = line.strip()
        if not text or text.startswith("<!--") or current is None:
            continue
        current.text = f"{current.text}\n{text}" if current.text else text
    if not law.articles:
        raise LawParseError(f"{source}: 没有找到任何「第X条」条文，无法解析")
    seen: set[str] = set()
    for a in law.articles:
        if a.article in seen:
            raise LawParseError(f"{source}: 条文编号重复：{a.article}")
        seen.add(a.article)
    return law


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        return {}, text
    meta = yaml.safe_load(text[3:end]) or {}
    return {str(k): str(v) for k, v in meta.items()}, text[end + 4 :]


def parse_file(path: Path, manifest: dict[str, dict[str, str]] | None = None) -> Law:
    """Parse one file by its extension. ``manifest`` maps file names to known title/level."""
    suffix = path.suffix.lower()
    known = (manifest or {}).get(path.name, {})
    if suffix in (".md", ".markdown", ".txt"):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise LawParseError(f"{path.name}: 编码既不是 UTF-8 也不是 GB18030") from exc
        meta, text = _front_matter(text)
        lines = text.splitlines()
        title = meta.get("title") or known.get("title")
        if title and lines and lines[0].lstrip("# ").strip() == title:
            lines = lines[1:]
        return parse_lines(
            lines,
            source=str(path),
            title=title,
            level=meta.get("level") or known.get("level"),
            region=meta.get("region"),
            date=meta.get("date", ""),
            digest=meta.get("digest", "").lower() == "true",
        )
    if suffix == ".docx":
        import docx

        try:
            document = docx.Document(str(path))
        except Exception as exc:  # python-docx raises several kinds for a broken file
            raise LawParseError(f"{path.name}: 无法读取 DOCX（{exc}）") from exc
        return parse_lines(
            [p.text for p in document.paragraphs],
            source=str(path),
            title=known.get("title"),
            level=known.get("level"),
        )
    if suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path))
            pages = [page.extract_text() or "" for page in reader.pages]
        except (PdfReadError, OSError, ValueError) as exc:
            raise LawParseError(f"{path.name}: 无法读取 PDF（{exc}）") from exc
        return parse_lines(
            _unwrap("\n".join(pages).splitlines()),
            source=str(path),
            title=known.get("title"),
            level=known.get("level"),
        )
    raise LawParseError(f"{path.name}: 不支持的格式 {suffix}（支持 .md .txt .docx .pdf）")


def _unwrap(lines: list[str]) -> list[str]:
    """Join the hard line breaks PDF extraction puts inside paragraphs."""
    out: list[str] = []
    for line in (x.strip() for x in lines):
        if not line:
            continue
        starts_new = (
            ARTICLE.match(line)
            or HEADING.match(line)
            or re.match(r"^（[一二三四五六七八九十]+）", line)
        )
        if out and not starts_new and not out[-1].endswith(("。", "：", "；", "！", "？")):
            out[-1] += line
        else:
            out.append(line)
    return out


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """MANIFEST.tsv (file, title, level, …) beside the texts, when there is one."""
    path = folder / "MANIFEST.tsv"
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        if row.get("file"):
            out[row["file"]] = {k: v for k, v in row.items() if k in ("title", "level") and v}
    return out


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
