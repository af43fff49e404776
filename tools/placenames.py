"""The names a text may use for a place: districts, streets/towns/townships, demo roads and
landmarks, each with the short forms people use (渝北区 → 渝北; 石柱土家族自治县 → 石柱县,
石柱; 解放碑街道 → 解放碑).

A two-character stem (新田镇 → 新田, 太平镇 → 太平) is an ordinary word more often than a
place, so it counts only where the district is already known (named in the text, given with
the event, or found from coordinates) or where a word only places take follows it (鱼洞老街,
蔺市段: ``STEM_CONTEXT``); three characters and more count anywhere, and so do
demo roads and landmarks, except road names every city has (人民路). A district's short form
that is also an ordinary word (长寿) counts only with its suffix. A name right after another
place's 省/市/区/县 (A市高桥镇) belongs to that place, not to this city."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from knowledge import Knowledge

WEIGHT = {"street": 1.0, "former": 0.95, "stem": 0.9, "landmark": 0.7, "road": 0.6}
LABEL = {
    "street": "街道（镇）名",
    "former": "撤镇（乡）前旧称",
    "stem": "街道（镇）简称",
    "landmark": "地标",
    "road": "道路",
}

#: district short forms that are ordinary words in a complaint (长寿老人, 大足球场…): only the
#: full name (长寿区) is read as the district
DISTRICT_SHORT_STOP = frozenset({"长寿"})

#: road names found in most Chinese cities: they count only in a known district
COMMON_ROADS = frozenset(
    {
        "人民路",
        "八一路",
        "五四路",
        "中山路",
        "公园路",
        "新华路",
        "滨江路",
        "和平路",
        "民族路",
        "民权路",
        "解放东路",
        "南山路",
        "人和街",
        "石油路",
        "花园路",
    }
)

#: rivers: read so that a place right after one (长江万州段, 嘉陵江北碚段) is not taken for the
#: tail of a longer name; a river locates nothing (the gazetteer reads 綦江河 likewise)
RIVERS = ("长江", "嘉陵江", "乌江", "涪江", "渠江", "御临河", "梁滩河", "芙蓉江", "阿蓬江")

#: what may follow a two-character stem for it to name a place even where the district is not
#: known (鱼洞老街, 井口某在建楼盘, 悦来这边, 蔺市段, 太白大道, 西彭工业园区): words that only a
#: place takes (not 小学, 片区, 附近, 派出所: 城西片区, 白马小学 are in every province). 大道
#: costs 4 false positives in 9,894 other-province messages (黄金大道, 三江大道 exist there
#: too): 0.17 % → 0.21 %, for the roads Chongqing names after their street (龙都大道, 太白大道)
STEM_CONTEXT = (
    "某",
    "这边",
    "那边",
    "一带",
    "老街",
    "场镇",
    "街上",
    "镇上",
    "码头",
    "段",
    "客运站",
    "大道",
    "工业园区",
)

_AUTONOMOUS = re.compile(r"(?:土家族|苗族)+自治县$")
_STREET_SUFFIX = re.compile(r"(?:街道|镇|乡)$")


@dataclass(frozen=True)
class Alias:
    text: str
    kind: str  # city | district | place | quiet | street | former | stem | landmark | road
    code: str  # city, district or street code
    # False: a street name that counts only where the district is already known; a district's
    # short form that counts only where it is not the tail of a longer name
    anywhere: bool = True


def district_forms(name: str) -> list[str]:
    """The ways a district may be written: 石柱土家族自治县, 石柱县, 石柱."""
    forms = [name]
    stem = _AUTONOMOUS.sub("", name)
    if stem != name:
        forms.append(stem + "县")
    else:
        stem = re.sub(r"(?:区|县)$", "", name)
    if len(stem) >= 2 and stem not in DISTRICT_SHORT_STOP:
        forms.append(stem)
    return list(dict.fromkeys(forms))


def street_stem(name: str) -> str:
    return _STREET_SUFFIX.sub("", name)


def former_names(name: str) -> tuple[str, ...]:
    """What a street or town may have been called before it was upgraded (街道 ← 镇, 乡;
    镇 ← 乡)."""
    stem = street_stem(name)
    if name.endswith("街道"):
        return (stem + "镇", stem + "乡")
    return (stem + "乡",) if name.endswith("镇") else ()


@cache
def aliases(k: Knowledge) -> tuple[Alias, ...]:
    """Every alias, longest text first (九龙坡区 before 九龙)."""
    city_stem = k.city.name.removesuffix("市")
    out = [Alias(k.city.name, "city", k.city.code), Alias(city_stem, "city", k.city.code)]
    district_texts: set[str] = set()
    for d in k.districts():
        for text in district_forms(d.name):
            # a short form (江北) can be the tail of a longer name too (长江北路, 河南岸)
            full = text.endswith(("区", "县"))
            out.append(Alias(text, "district", d.code, anywhere=full))
            district_texts.add(text)
        short = re.sub(r"(?:区|县)$", "", d.name)
        if short in DISTRICT_SHORT_STOP:  # read, so that the word is not taken for a street
            out.append(Alias(short, "quiet", d.code))
    streets = k.streets()
    names = {s.name for s in streets}
    for s in streets:
        out.append(Alias(s.name, "street", s.code))
        stem = street_stem(s.name)
        # towns become streets and townships towns (两路镇 → 两路街道, 仙女山镇 → 仙女山街道),
        # and people keep the old name for years: it means the street where no place of
        # this city bears it now (where the district is known, if the stem has two
        # characters: 官庄镇 and 龙洞乡 are in every province)
        out += [
            Alias(old, "former", s.code, len(stem) >= 3)
            for old in former_names(s.name)
            if old not in names and len(stem) >= 2
        ]
        # a stem that is also a district's name (沙坪坝, 巫山) means the district; a stem of
        # two characters (新田, 太平) or that reads as a road (中山路) needs its district
        if stem != s.name and len(stem) >= 2 and stem not in district_texts:
            anywhere = len(stem) >= 3 and stem not in COMMON_ROADS
            out.append(Alias(stem, "stem", s.code, anywhere))
        out += [Alias(r, "road", s.code, r not in COMMON_ROADS) for r in s.roads]
        out += [Alias(lm, "landmark", s.code, len(lm) >= 3) for lm in s.landmarks]
    # the gazetteer (landmarks.yaml): a place in one street is a landmark of that street; one
    # known only to its district names the district ("place"); one across districts (a river
    # bridge) is read so that its parts are not taken for other places, and locates nothing
    out += [Alias(river, "quiet", k.city.code) for river in RIVERS]
    for lm in k.landmarks:
        if lm.street:
            out.append(Alias(lm.name, "landmark", lm.street))
        elif lm.district:
            out.append(Alias(lm.name, "place", lm.district))
        else:
            out.append(Alias(lm.name, "quiet", (lm.districts or [k.city.code])[0]))
    return tuple(sorted(out, key=lambda a: -len(a.text)))


#: what may stand right before a place name: punctuation, digits, letters, or one of these
#: words (在解放碑, 住高桥镇); another Han character makes it part of a longer name (大江口镇,
#: 热火朝天门前), unless that character ends a name read already (渝中区解放碑)
BEFORE = frozenset(
    "在到去从往于是我你他她它们的了和与及至向住近离经由自回来对把被让给为跟同靠临沿过跨属"
)
#: after a stem, a character that makes it another kind of place (陈家桥乡, 桃花源路)
STEM_AFTER_STOP = frozenset("乡镇村路街巷道桥区县市组")


def han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@cache
def grouped(k: Knowledge) -> tuple[tuple[str, tuple[Alias, ...]], ...]:
    """Aliases grouped by their text, longest text first: one name may mean several places."""
    groups: dict[str, list[Alias]] = {}
    for alias in aliases(k):
        groups.setdefault(alias.text, []).append(alias)
    return tuple((text, tuple(items)) for text, items in groups.items())
