"""``locate``: address text or coordinates → street and district, with a confidence.

Names are matched longest first so that 九龙坡区 is not read as 九龙街道. A road or landmark
that belongs to several streets gives candidates, not a guess."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, Field, model_validator

from knowledge import Knowledge
from knowledge.models import Jurisdiction


class LocateQuery(BaseModel):
    address: str | None = Field(default=None, max_length=500, description="地址或事发地描述")
    lat: float | None = Field(default=None, ge=-90, le=90, description="纬度（WGS-84）")
    lon: float | None = Field(default=None, ge=-180, le=180, description="经度（WGS-84）")

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
    candidates: list[Place]
    explanation: str


@dataclass(frozen=True)
class Alias:
    text: str
    kind: str  # district | street | road | landmark
    code: str  # district or street code


@cache
def _aliases(k: Knowledge) -> tuple[Alias, ...]:
    out: list[Alias] = []
    for d in k.districts():
        out.append(Alias(d.name, "district", d.code))
        short = d.name.removesuffix("区").removesuffix("县")
        if len(short) >= 2:
            out.append(Alias(short, "district", d.code))
        for s in k.streets(d.code):
            out.append(Alias(s.name, "street", s.code))
            short = s.name.removesuffix("街道").removesuffix("镇")
            if len(short) >= 2 and short != s.name:
                out.append(Alias(short, "street", s.code))
            out += [Alias(r, "road", s.code) for r in s.roads]
            out += [Alias(lm, "landmark", s.code) for lm in s.landmarks]
    return tuple(sorted(out, key=lambda a: -len(a.text)))


@cache
def _grouped(k: Knowledge) -> tuple[tuple[str, tuple[Alias, ...]], ...]:
    """Aliases grouped by their text, longest text first: one name may mean several places."""
    groups: dict[str, list[Alias]] = {}
    for alias in _aliases(k):
        groups.setdefault(alias.text, []).append(alias)
    return tuple((text, tuple(items)) for text, items in groups.items())


WEIGHT = {"street": 1.0, "landmark": 0.7, "road": 0.6}


def _from_text(k: Knowledge, text: str) -> tuple[dict[str, float], dict[str, list[str]], set[str]]:
    taken = [False] * len(text)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    districts: set[str] = set()
    hits: dict[str, dict[str, str]] = {}  # name -> {street code: strongest kind}
    for name, group in _grouped(k):
        start = text.find(name)
        while start != -1:
            span = range(start, start + len(name))
            if not any(taken[i] for i in span):
                for i in span:
                    taken[i] = True
                for alias in group:
                    if alias.kind == "district":
                        districts.add(alias.code)
                        continue
                    kinds = hits.setdefault(name, {})
                    if WEIGHT[alias.kind] > WEIGHT.get(kinds.get(alias.code, ""), 0.0):
                        kinds[alias.code] = alias.kind
            start = text.find(name, start + 1)
    label = {"street": "街道名", "road": "道路", "landmark": "地标"}
    for name, kinds in hits.items():
        for code, kind in kinds.items():
            share = WEIGHT[kind] / len(
                kinds
            )  # a name shared by several streets counts less for each
            scores[code] = scores.get(code, 0.0) + share
            evidence.setdefault(code, []).append(f"{label[kind]}：{name}")
    return scores, evidence, districts


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


def locate(k: Knowledge, q: LocateQuery) -> LocateResult:
    """根据地址文字或经纬度判断事发地所属街道（镇）和区县，给出置信度；地名有歧义时返回候选而不猜测。"""
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    districts: set[str] = set()
    if q.address:
        scores, evidence, districts = _from_text(k, "".join(q.address.split()))
    if q.lat is not None and q.lon is not None:
        lat, lon = q.lat, q.lon
        ranked = sorted(k.streets(), key=lambda s: _km(lat, lon, s.lat, s.lon))
        for s in ranked[:3]:
            km = _km(lat, lon, s.lat, s.lon)
            if km > 15:
                continue
            closeness = 1.0 / (1.0 + (km / 0.6) ** 2)
            scores[s.code] = scores.get(s.code, 0.0) + closeness
            evidence.setdefault(s.code, []).append(f"距街道中心{km:.1f}公里")
    if districts:  # an explicit district rules out streets elsewhere
        scores = {c: v for c, v in scores.items() if k.jurisdiction(c).parent in districts}

    candidates = [
        _place(k, k.jurisdiction(c), k.jurisdiction(k.jurisdiction(c).parent or ""), v, evidence[c])
        for c, v in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    ][:5]
    if not candidates:
        if len(districts) == 1:
            d = k.jurisdiction(next(iter(districts)))
            return LocateResult(
                street=None,
                district=d.code,
                confidence=0.6,
                ambiguous=False,
                candidates=[_place(k, None, d, 0.6, [f"区县名：{d.name}"])],
                explanation=f"只识别到区县「{d.name}」，未识别到街道（镇）。",
            )
        return LocateResult(
            street=None,
            district=None,
            confidence=0.0,
            ambiguous=len(districts) > 1,
            candidates=[],
            explanation="未能从地址或坐标识别出本市样例辖区内的位置。",
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
            explanation=f"地名有歧义，可能是：{names}。请补充街道或门牌信息。",
        )
    confidence = (
        min(0.99, best.score / (best.score + runner + 0.1))
        if runner
        else min(0.99, 0.5 + best.score / 2)
    )
    if districts:
        best.evidence.insert(0, f"区县名：{best.district_name}")
        confidence = min(0.99, confidence + 0.05)
    return LocateResult(
        street=best.street,
        district=best.district,
        confidence=round(confidence, 3),
        ambiguous=False,
        candidates=candidates,
        explanation=f"定位到{best.district_name}{best.street_name}，依据：{'；'.join(best.evidence)}。",
    )
