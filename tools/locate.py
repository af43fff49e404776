"""``locate``: address text or coordinates → street and district, with a confidence.

Text: the names of all districts and streets/towns/townships (``tools.placenames``) are matched
longest first, so that 九龙坡区 is not read as 九龙街道. A name that several streets share
(兴隆镇 is in four districts) is settled by the district named in the text, else the district
given with the event, else the district the coordinates fall in; otherwise it gives
candidates, not a guess. Coordinates: the district from real district polygons
(``knowledge.areas``); the street only for demo streets with a centroid (the nearest one within
that district). A point outside the city is answered as out of area, not as an error."""

from __future__ import annotations

import math
from functools import cache

from pydantic import BaseModel, Field, model_validator

from knowledge import Knowledge
from knowledge.areas import areas
from knowledge.models import Jurisdiction
from tools.placenames import (
    BEFORE,
    LABEL,
    STEM_AFTER_STOP,
    STEM_CONTEXT,
    WEIGHT,
    Alias,
    grouped,
    han,
)


class LocateQuery(BaseModel):
    address: str | None = Field(default=None, max_length=500, description="地址或事发地描述")
    lat: float | None = Field(default=None, ge=-90, le=90, description="纬度（WGS-84）")
    lon: float | None = Field(default=None, ge=-180, le=180, description="经度（WGS-84）")
    district: str | None = Field(
        default=None,
        max_length=12,
        description="已知的区县编码（如事件上报时标注的区县），用于区分重名街道（镇）",
    )

    @model_validator(mode="after")
    def _something(self) -> LocateQuery:
        if not (self.address and self.address.strip()) and (self.lat is None or self.lon is None):
            raise ValueError("请提供地址，或同时提供经纬度 (need an address or lat and lon)")
        return self


class Place(BaseModel):
    street: str | None
    street_name: str | None
    district: str | None
    district_name: str | None
    score: float
    evidence: list[str] = Field(
        description="匹配依据，如「街道名：解放碑街道」「距街道中心0.4公里」"
    )


class LocateResult(BaseModel):
    street: str | None = Field(description="确定的街道（镇）编码；有歧义时为空")
    district: str | None
    confidence: float
    ambiguous: bool
    out_of_area: bool = Field(default=False, description="坐标在本市范围以外")
    candidates: list[Place]
    explanation: str


def names_in(
    k: Knowledge, text: str
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], set[str]]:
    """Names found in ``text``, longest first, each span read once: (name -> {street code:
    strongest kind}) for names that count anywhere, the same for two-character stems that
    count only in a known district (unless a word only places take follows them), and the
    districts named."""
    taken = [False] * len(text)
    districts: set[str] = set()
    hits: dict[str, dict[str, str]] = {}
    weak: dict[str, dict[str, str]] = {}
    found: list[tuple[str, tuple[Alias, ...], list[int]]] = []
    for name, group in _candidates(k, text):
        spans = []
        start = text.find(name)
        while start != -1:
            if not any(taken[start : start + len(name)]):
                spans.append(start)
                taken[start : start + len(name)] = [True] * len(name)
            start = text.find(name, start + 1)
        if spans:
            found.append((name, group, spans))
    for name, group, spans in found:
        # 「A7县高桥镇…高桥镇政府」「大江口镇」: once a name is the tail of another, longer
        # place name, it means that place wherever it recurs in the text
        tail = any(_tail(text, taken, s) for s in spans)
        stem_ok = any(text[s + len(name) : s + len(name) + 1] not in STEM_AFTER_STOP for s in spans)
        # 鱼洞老街, 井口某工地: a two-character stem followed by a word only places take
        placed = any(text.startswith(STEM_CONTEXT, s + len(name)) for s in spans)
        denied = all(text[max(0, s - 2) : s] in ("不是", "不在") for s in spans)
        for alias in group:
            full_district = alias.kind == "district" and alias.anywhere
            if alias.kind in ("city", "quiet") or (tail and not full_district):
                continue
            if alias.kind == "stem" and not stem_ok:  # 陈家桥乡, 桃花源路: another place
                continue
            if alias.kind in ("district", "place"):
                if not denied:  # 「走马镇，不是万州那个」: the caller rules that district out
                    districts.add(alias.code)
                continue
            anywhere = alias.anywhere or (alias.kind == "stem" and placed)
            kinds = (hits if anywhere else weak).setdefault(name, {})
            if WEIGHT[alias.kind] > WEIGHT.get(kinds.get(alias.code, ""), 0.0):
                kinds[alias.code] = alias.kind
    return hits, weak, districts


@cache
def _by_opening(k: Knowledge) -> dict[str, tuple[int, ...]]:
    """Positions in ``grouped(k)`` of the names, by their first two characters ("" for a
    name of one character, which is always searched for)."""
    positions: dict[str, list[int]] = {}
    for n, (name, _) in enumerate(grouped(k)):
        positions.setdefault(name[:2] if len(name) >= 2 else "", []).append(n)
    return {opening: tuple(ns) for opening, ns in positions.items()}


def _candidates(k: Knowledge, text: str) -> list[tuple[str, tuple[Alias, ...]]]:
    """The names of ``grouped(k)`` that may occur in ``text`` (their first two characters do),
    in the same order: the rest cannot be found, so they are not searched for."""
    names, by_opening = grouped(k), _by_opening(k)
    openings = {text[i : i + 2] for i in range(len(text) - 1)} | {""}
    positions = sorted(n for o in openings & by_opening.keys() for n in by_opening[o])
    return [names[n] for n in positions]


def _tail(text: str, taken: list[bool], start: int) -> bool:
    """Whether the name at ``start`` follows a Han character that is no connecting word and
    ends no name read already: then it is the tail of a longer name."""
    if start == 0 or taken[start - 1]:
        return False
    before = text[start - 1]
    return han(before) and before not in BEFORE


def _scores(
    k: Knowledge, hits: dict[str, dict[str, str]], within: set[str] | None
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Scores of streets from the names found, kept to the districts ``within`` when given;
    a name shared by several streets counts less for each."""
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    for name, kinds in hits.items():
        kept = {
            c: kind
            for c, kind in kinds.items()
            if within is None or k.jurisdiction(c).parent in within
        }
        for code, kind in kept.items():
            scores[code] = scores.get(code, 0.0) + WEIGHT[kind] / len(kept)
            evidence.setdefault(code, []).append(f"{LABEL[kind]}：{name}")
    return scores, evidence


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p = math.pi / 180
    a = (
        math.sin((lat2 - lat1) * p / 2) ** 2
        + math.cos(lat1 * p) * math.cos(lat2 * p) * math.sin((lon2 - lon1) * p / 2) ** 2
    )
    return 12742 * math.asin(math.sqrt(a))


def _place(
    k: Knowledge,
    street: Jurisdiction | None,
    district: Jurisdiction | None,
    score: float,
    evidence: list[str],
) -> Place:
    return Place(
        street=street.code if street else None,
        street_name=street.name if street else None,
        district=district.code if district else None,
        district_name=district.name if district else None,
        score=round(score, 3),
        evidence=evidence,
    )


#: how far (km) a point may lie outside a district's simplified polygon and still be matched
#: to one of its demo streets
BORDER_KM = 2.0


def _geo(k: Knowledge, lat: float, lon: float) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Nearest demo-street centroids in the district the point lies in, or in a neighbour
    whose (simplified) polygon is within ``BORDER_KM``. Only demo streets have centroids:
    elsewhere the street stays unresolved."""
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    near = areas(k.city.code).districts_near(lat, lon, BORDER_KM)
    known = [s for d in near for s in k.sample_streets(d)]
    ranked = sorted((_km(lat, lon, s.lat, s.lon), s.code) for s in known)  # type: ignore[arg-type]
    for km, code in ranked[:3]:
        if km > 15:
            continue
        scores[code] = 1.0 / (1.0 + (km / 0.6) ** 2)
        evidence[code] = [f"距街道中心{km:.1f}公里"]
    return scores, evidence


def _district_only(
    k: Knowledge, code: str, why: str, score: float, out_of_area: bool = False
) -> LocateResult:
    d = k.jurisdiction(code)
    return LocateResult(
        street=None,
        district=d.code,
        confidence=score,
        ambiguous=False,
        out_of_area=out_of_area,
        candidates=[_place(k, None, d, score, [why])],
        explanation=f"只识别到区县「{d.name}」（{why}），未识别到街道（镇）。",
    )


def locate(k: Knowledge, q: LocateQuery) -> LocateResult:
    """根据地址文字或经纬度判断事发地所属街道（镇）和区县，给出置信度；地名有歧义时返回候选而不猜测；
    坐标在本市以外时如实说明。"""
    hits: dict[str, dict[str, str]] = {}
    weak: dict[str, dict[str, str]] = {}
    named: set[str] = set()
    if q.address:
        hits, weak, named = names_in(k, "".join(q.address.split()))
    given = k.ancestor_at(q.district, "district") if q.district in k.jurisdictions else None
    hint = given.code if given else None
    geo: str | None = None
    outside = False
    if q.lat is not None and q.lon is not None:
        geo = areas(k.city.code).district_at(q.lat, q.lon)
        outside = geo is None
    # the district that decides between same-named streets: named in the text, else given
    # with the event, else where the coordinates fall
    context = named or ({hint} if hint else set()) or ({geo} if geo else set())
    scores, evidence = _scores(k, {**weak, **hits} if context else hits, context or None)
    if geo is not None and q.lat is not None and q.lon is not None:
        near, why = _geo(k, q.lat, q.lon)
        for code, v in near.items():
            if context == {geo} or k.jurisdiction(code).parent in context:
                scores[code] = scores.get(code, 0.0) + v
                evidence.setdefault(code, []).extend(why[code])

    candidates = [
        _place(k, k.jurisdiction(c), k.jurisdiction(k.jurisdiction(c).parent or ""), v, evidence[c])
        for c, v in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    ][:5]
    if not candidates:
        if len(named) == 1:
            d = next(iter(named))
            return _district_only(k, d, f"区县名：{k.jurisdiction(d).name}", 0.6)
        if not named and hint:
            return _district_only(k, hint, "事件已标注区县", 0.6)
        if not named and geo:
            return _district_only(k, geo, "坐标位于该区县范围内", 0.7)
        if outside and not named:
            return LocateResult(
                street=None,
                district=None,
                confidence=0.0,
                ambiguous=False,
                out_of_area=True,
                candidates=[],
                explanation=f"坐标（{q.lat:.4f}, {q.lon:.4f}）不在{k.city.name}范围内，"
                "不属于本系统辖区，请核实事发地。",
            )
        return LocateResult(
            street=None,
            district=None,
            confidence=0.0,
            ambiguous=len(named) > 1,
            candidates=[],
            explanation=f"未能从地址或坐标识别出{k.city.name}的区县或街道（镇）。",
        )

    best = candidates[0]
    runner = candidates[1].score if len(candidates) > 1 else 0.0
    if runner >= best.score * 0.85:
        tied = [c for c in candidates if c.score >= best.score * 0.85]
        common = {c.district for c in tied}
        district = common.pop() if len(common) == 1 else None
        names = "、".join(f"{c.district_name}{c.street_name}" for c in tied)
        return LocateResult(
            street=None,
            district=district,
            confidence=round(best.score / (best.score + runner), 3),
            ambiguous=True,
            candidates=tied,
            explanation=f"地名有歧义，可能是：{names}。请补充区县、街道或门牌信息。",
        )
    confidence = (
        min(0.99, best.score / (best.score + runner + 0.1))
        if runner
        else min(0.99, 0.5 + best.score / 2)
    )
    if named or hint:
        best.evidence.insert(0, f"区县名：{best.district_name}" if named else "事件已标注区县")
        confidence = min(0.99, confidence + 0.05)
    return LocateResult(
        street=best.street,
        district=best.district,
        confidence=round(confidence, 3),
        ambiguous=False,
        candidates=candidates,
        explanation=f"定位到{best.district_name}{best.street_name}，依据：{'；'.join(best.evidence)}。",
    )
