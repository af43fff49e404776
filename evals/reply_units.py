"""Who handled a citizen's message, read from the government's reply: weak real labels of
department type and level for routing.

A reply names units in several roles: the board's forwarder (市信访局, 电子政务管理办), the unit
the case was passed to, the unit that investigated and answered, and units the citizen is told
to contact. THE handling unit is chosen in this order:

1. the unit that signs the reply (named in its last characters, before the date);
2. the reply speaking as a town or street (我镇, 我街道): the street office — units it names
   only helped;
3. units the reply says acted (经/由/转交… before the name, 调查/核实/回复… after it): the most
   specific of them (street before district before city), and among equals the last named —
   in a forwarding chain (市信访局 → 区住建局 → 街道) that is the end of the chain;
4. units merely named, when they are all of one type (most specific, then the last);
5. a unit the citizen is only referred to (向…咨询, 与…联系), the last one.

A unit whose name maps to none of our department types (finance, discipline, companies, a
district government as a whole) is never the handling unit; a reply with no typed unit gets no
label. Levels: 「A市…」 or 「市…」 is city, 「A3区…」 「K7县…」 「县…」 district (a county-level
city, 「K1县市…」, too), streets, towns and police stations street. Provincial units are labelled
city: the board belongs to a provincial capital, and Chongqing's city bureaus are themselves
provincial-level.

The labels file holds message ids, type, level and the rule that chose the unit; the units' own
names stay in an uncommitted report under data/. ``evals/datasets/reply-units-handcheck.csv``
holds two hand-checks of 100 random labelled messages each, read against the full reply: seed 2
on the extractor after one round of fixes, seed 3 (the final figure) after a second round.

    python -m evals.reply_units --replies ../shared/data/citizen-messages/messages-with-official-replies.csv \\
        --out evals/datasets/reply-department-labels.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from evals.tables import read_table

PATTERNS = Path(__file__).with_name("reply_units.yaml")
SPECIFIC = {"street": 0, "district": 1, "city": 2, "": 3}

#: a place prefix right before a unit's ending: 「A3区」 「K7县市」 「A市」 「西地省」 or a bare 区/县/市/省
_PREFIX = re.compile(
    r"(?:(?P<coded>[A-Z]\d*)(?P<kind>县市|区|县|市))$|(?P<prov>西地省|省)$|(?P<bare>区县|县|区|市)$"
)
#: a street or town named by itself: 「泉塘街道」 「北山镇」 「沙田乡」
_PLACE = re.compile(
    r"(?:街道|镇|乡)(?![\u4e00-\u9fa5]{0,2}(?:局|委|政府|办|所))"
    r"(?!中学|小学|中心|学校|卫生院|医院|村|社区|居委会|派出所|政府|党委|镇|干部)"
)
_NOT_A_NAME = re.compile(r"[城乡村集小重全各本我该所在等和及与或的一个是各级两区县市省]")
_LEAD_IN = set("经由转至交到向与和及或的在已将请该所对于是为即并即把从各等我本县区市")
#: a list of kinds of unit, not a named one: 「乡镇人民政府、街道办事处」 「各街道办事处」
_GENERIC = re.compile(r"[和及与或的、各该本我所在]|[乡镇]$")
_SELF_STREET = re.compile(r"[我本](?:镇|乡|街道)")
_DATE_TAIL = re.compile(r"[\s\d年月日号，。！!、:：\-—（）()]*$")


@dataclass(frozen=True)
class Mention:
    surface: str
    type: str
    level: str  # street, district, city, or "" when the reply does not say
    start: int
    end: int
    acted: bool = False
    referral: bool = False
    signed: bool = False


@dataclass
class Extraction:
    handler: Mention | None
    rule: str  # which step chose it: signed, acted, self_street, named, referral, none
    mentions: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class Patterns:
    ending_type: dict[str, str]
    street_units: frozenset[str]
    default_levels: tuple[tuple[str, str], ...]
    acted_before: tuple[str, ...]
    acted_after: tuple[str, ...]
    referral_before: tuple[str, ...]
    endings: re.Pattern[str]


@cache
def patterns(path: Path = PATTERNS) -> Patterns:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    ending_type: dict[str, str] = {}
    for code, endings in raw["units"].items():
        for e in endings:
            ending_type.setdefault(e, code)
    ordered = sorted(ending_type, key=len, reverse=True)
    return Patterns(
        ending_type=ending_type,
        street_units=frozenset(raw["street_units"]),
        default_levels=tuple(raw["default_levels"].items()),
        acted_before=tuple(raw["acted_before"]),
        acted_after=tuple(raw["acted_after"]),
        referral_before=tuple(raw["referral_before"]),
        endings=re.compile("|".join(map(re.escape, ordered))),
    )


def _level_and_prefix(text: str, start: int, ending: str, p: Patterns) -> tuple[str, str]:
    if ending in p.street_units:
        return "street", ""
    before = text[max(0, start - 6) : start]
    m = _PREFIX.search(before)
    if m is None:  # no place given: 「交警大队」 is a county's, 「交警支队」 a prefecture's
        return next((lv for end, lv in p.default_levels if ending.endswith(end)), ""), ""
    if m.group("coded"):
        # 「A市」 is a prefecture city; 「B9市」 (a digit) and 「K1县市」 are county-level cities
        city = m.group("kind") == "市" and not any(c.isdigit() for c in m.group("coded"))
        return ("city" if city else "district"), m.group(0)
    if m.group("prov"):
        return "city", m.group(0)
    bare = m.group("bare")
    return ("city" if bare == "市" else "district"), bare


def _context(text: str, start: int, end: int, p: Patterns) -> tuple[bool, bool]:
    before = text[max(0, start - 4) : start]
    after = text[end : end + 8]
    referral = any(w in before for w in p.referral_before)
    acted = not referral and (
        any(before.endswith(w) for w in p.acted_before) or any(w in after for w in p.acted_after)
    )
    return acted, referral


def _signed(text: str, end: int) -> bool:
    tail = _DATE_TAIL.search(text)
    body_end = tail.start() if tail else len(text)
    return body_end - 2 <= end <= body_end


def mentions(reply: str, subject: str = "") -> list[Mention]:
    """Every typed unit the reply names, in order. The message's subject is read only to tell
    whether a bare 「市…局」 belongs to a county-level city (「B9市」 named in it)."""
    p = patterns()
    text = re.sub(r"\s+", "", reply)
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for m in p.endings.finditer(text):
        ending = m.group(0)
        if _cited(text, m.start()) or text[max(0, m.start() - 4) : m.start()].endswith(
            ("国家", "国务院", "部")
        ):
            continue  # a title in 《》 or a national body: quoted, not acting
        level, prefix = _level_and_prefix(text, m.start(), ending, p)
        start = m.start() - len(prefix)
        if ending in p.street_units:  # take the street's or town's name along
            name = _street_name(text[max(0, m.start() - 4) : m.start()])
            if (not name or _GENERIC.search(name)) and ending != "派出所":
                continue  # 「由镇人民政府或街道办事处…」: a kind of unit, not a unit
            start = m.start() - len(name) if name and not _GENERIC.search(name) else m.start()
        acted, referral = _context(text, start, m.end(), p)
        found.append(
            Mention(
                surface=text[start : m.end()],
                type=p.ending_type[ending],
                level=level,
                start=start,
                end=m.end(),
                acted=acted,
                referral=referral,
                signed=_signed(text, m.end()),
            )
        )
        taken.append((start, m.end()))
    for m in _PLACE.finditer(text):
        name = _street_name(text[max(0, m.start() - 4) : m.start()])
        start = m.start() - len(name)
        if (
            not name
            or _NOT_A_NAME.search(name)
            or _cited(text, start)
            or any(s < m.end() and start < e for s, e in taken)
        ):
            continue
        acted, referral = _context(text, start, m.end(), p)
        signed = _signed(text, m.end())
        if acted or signed:  # a bare place name is a unit only when it acts or signs
            found.append(
                Mention(
                    text[start : m.end()],
                    "street_office",
                    "street",
                    start,
                    m.end(),
                    acted,
                    referral,
                    signed,
                )
            )
    voice = _reply_level(text)
    county_city = re.search(r"[A-Z]\d+(?:县)?市", text + subject) is not None
    fixed = []
    for x in found:
        level = x.level or voice
        if x.level == "city" and county_city and re.match(r"市", x.surface):
            level = "district"  # 「市教育局」 in a county-level city's reply is its own bureau
        fixed.append(replace(x, level=level))
    return sorted(fixed, key=lambda x: x.start)


def _street_name(before: str) -> str:
    """The name in front of a street unit's ending, without the words that lead into it."""
    m = re.search(r"[\u4e00-\u9fa5]{1,4}$", before)
    name = m.group(0) if m else ""
    while name and name[0] in _LEAD_IN:
        name = name[1:]
    return name if len(name) >= 2 else ""


def _cited(text: str, at: int) -> bool:
    """Inside a 《title》: a document is cited, no unit acts."""
    return text.rfind("《", 0, at) > text.rfind("》", 0, at)


def _reply_level(text: str) -> str:
    """The level the reply speaks from, for units it names without a place."""
    if re.search(r"我[县区]|全[县区]", text):
        return "district"
    if re.search(r"我市|全市", text) and not re.search(r"[A-Z]\d+市", text):
        return "city"
    coded = len(re.findall(r"[A-Z]\d+[区县市]", text))
    prefecture = len(re.findall(r"[A-Z]市(?!\d)", text))
    if coded or prefecture:
        return "district" if coded >= prefecture else "city"
    return ""


def _most_specific(ms: list[Mention]) -> Mention:
    return min(reversed(ms), key=lambda x: SPECIFIC[x.level])


def extract(reply: str, subject: str = "") -> Extraction:
    """THE handling unit of a reply (see the module's docstring for the order of the rules)."""
    ms = mentions(reply, subject)
    signed = [x for x in ms if x.signed and not x.referral]
    if signed:
        return Extraction(signed[-1], "signed", ms)
    self_street = _SELF_STREET.search(re.sub(r"\s+", "", reply))
    if self_street:
        unit = Mention(
            self_street.group(0), "street_office", "street", self_street.start(), self_street.end()
        )
        return Extraction(unit, "self_street", ms)
    acted = [x for x in ms if x.acted]
    if acted:
        return Extraction(_most_specific(acted), "acted", ms)
    named = [x for x in ms if not x.referral]
    if named and len({x.type for x in named}) == 1:  # named in passing: only when unambiguous
        return Extraction(_most_specific(named), "named", ms)
    referred = [x for x in ms if x.referral]
    if referred:
        return Extraction(referred[-1], "referral", ms)
    return Extraction(None, "none", ms)


def label_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """One labels row per message with a handling unit, and coverage statistics."""
    out: list[dict[str, str]] = []
    rules: Counter[str] = Counter()
    for r in rows:
        ex = extract(str(r.get("答复意见") or ""), str(r.get("留言主题") or ""))
        rules[ex.rule] += 1
        if ex.handler is None:
            continue
        out.append(
            {
                "留言编号": str(r["留言编号"]),
                "department_type": ex.handler.type,
                "level": ex.handler.level,
                "unit": ex.handler.surface,
                "rule": ex.rule,
                "others": "；".join(m.surface for m in ex.mentions if m != ex.handler),
            }
        )
    stats = {
        "messages": len(rows),
        "labelled": len(out),
        "coverage": round(len(out) / max(1, len(rows)), 4),
        "by_rule": dict(rules.most_common()),
        "level_known": sum(1 for o in out if o["level"]),
        "department_types": dict(Counter(o["department_type"] for o in out).most_common()),
        "levels": dict(Counter(o["level"] or "（未知）" for o in out).most_common()),
    }
    return out, stats


COMMITTED = ["留言编号", "department_type", "level", "rule"]


def main() -> None:
    parser = argparse.ArgumentParser(description="从政府答复中提取承办单位，生成部门类型和层级标签")
    parser.add_argument("--replies", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="标签文件（只含编号、类型、层级）")
    parser.add_argument(
        "--units-report",
        type=Path,
        default=Path("data/reply-units/units.csv"),
        help="含单位名称的明细（不入库）",
    )
    args = parser.parse_args()
    rows, stats = label_rows(read_table(args.replies))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COMMITTED, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    args.units_report.parent.mkdir(parents=True, exist_ok=True)
    with args.units_report.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*COMMITTED, "unit", "others"])
        w.writeheader()
        w.writerows(rows)
    print(json.dumps(stats, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
