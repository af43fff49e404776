"""``find_duplicates``: reports of the same incident, by text similarity, distance and time.

Text similarity is a cosine over character bigrams weighted by their rarity in a background
corpus of ordinary complaints (the shipped labelled set and the taxonomy's phrasings), so the
boilerplate every report shares (市民来电反映, 希望尽快处理) counts for little and what is specific
to the incident (an estate's name, a road, a shop) counts for much. A background is used rather
than the candidate pool itself, because when one incident floods the hotline its own words fill
the pool and would look like boilerplate."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta
from functools import cache

from pydantic import BaseModel, Field

from domain.models import Scope
from knowledge import Knowledge
from store import EventStore
from tools.events import EventSummary, summarize

_NOISE = re.compile(r"[\s\W\d_]+", re.UNICODE)
KM_PER_DEG = 111.0


class DuplicateQuery(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="新事件的正文（可含标题）")
    reported_at: datetime = Field(description="新事件的上报时间")
    lat: float | None = Field(default=None, description="纬度")
    lon: float | None = Field(default=None, description="经度")
    street: str | None = Field(default=None, description="所属街道编码（已知时缩小范围）")
    subtype: str | None = Field(default=None, description="事件小类（已知时作为参考）")
    exclude_id: int | None = Field(default=None, description="排除的事件编号（通常是新事件自己）")
    window_days: float = Field(default=7, gt=0, le=90, description="前后时间窗口（天）")
    radius_km: float = Field(default=0.5, gt=0, le=20, description="空间半径（公里）")
    min_score: float = Field(default=0.35, ge=0, le=1, description="最低综合得分")
    limit: int = Field(default=10, ge=1, le=100)


class DuplicateCandidate(BaseModel):
    event: EventSummary
    score: float = Field(description="综合得分 0-1")
    text_similarity: float
    distance_km: float | None
    hours_apart: float
    reasons: list[str]


def bigrams(text: str) -> Counter[str]:
    s = _NOISE.sub("", text)
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def _cosine(a: Counter[str], b: Counter[str], idf: dict[str, float]) -> float:
    dot = sum(v * b[g] * idf.get(g, 1.0) ** 2 for g, v in a.items() if g in b)
    if not dot:
        return 0.0
    na = math.sqrt(sum((v * idf.get(g, 1.0)) ** 2 for g, v in a.items()))
    nb = math.sqrt(sum((v * idf.get(g, 1.0)) ** 2 for g, v in b.items()))
    return dot / (na * nb)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dx = (lon2 - lon1) * KM_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * KM_PER_DEG)


class BackgroundIdf(dict[str, float]):
    """Bigram weights from a background corpus; unseen bigrams get the highest weight."""

    def __init__(self, texts: list[str]) -> None:
        df: Counter[str] = Counter()
        for t in texts:
            df.update(bigrams(t).keys())
        n = len(texts)
        super().__init__({g: math.log((n + 1) / (c + 1)) + 1 for g, c in df.items()})
        self.unseen = math.log(n + 1) + 1

    def get(self, key: str, default: float | None = None) -> float:  # type: ignore[override]
        return dict.get(self, key, self.unseen)


@cache
def background_idf(k: Knowledge) -> BackgroundIdf:
    texts = [e for st in k.subtypes.values() for e in st.examples]
    path = k.source / "labelled" / "synthetic-train.jsonl"
    if path.exists():
        texts += [
            json.loads(line)["text"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]
    return BackgroundIdf(texts)


def find_duplicates(
    store: EventStore, k: Knowledge, scope: Scope, q: DuplicateQuery
) -> list[DuplicateCandidate]:
    """查找与新事件可能是同一事项的已有事件：综合文本相似度、距离和时间窗口，返回候选及得分和理由。"""
    window = timedelta(days=q.window_days)
    box = None
    if q.lat is not None and q.lon is not None:
        dlat = 3 * q.radius_km / KM_PER_DEG
        dlon = dlat / max(0.2, math.cos(math.radians(q.lat)))
        box = (q.lat - dlat, q.lat + dlat, q.lon - dlon, q.lon + dlon)
    rows = store.nearby(
        scope,
        since=q.reported_at - window,
        until=q.reported_at + window,
        streets=[q.street] if q.street and box is None else [],
        box=box,
        exclude_id=q.exclude_id,
    )
    if not rows:
        return []
    mine = bigrams(q.text)
    theirs = [bigrams((r["title"] or "") + r["text"]) for r in rows]
    idf = background_idf(k)

    out = []
    for row, grams in zip(rows, theirs, strict=True):
        sim = _cosine(mine, grams, idf)
        if sim < 0.2:
            continue
        hours = abs((row["reported_at"] - q.reported_at).total_seconds()) / 3600
        time_score = max(0.0, 1 - hours / (q.window_days * 24))
        reasons = [f"文本相似度{sim:.2f}", f"相隔{_span(hours)}"]
        km = None
        if box is not None and row["lat"] is not None and row["lon"] is not None:
            km = _km(q.lat, q.lon, row["lat"], row["lon"])  # type: ignore[arg-type]
            place_score = math.exp(-km / q.radius_km)
            reasons.append(f"相距{km * 1000:.0f}米" if km < 1 else f"相距{km:.1f}公里")
            score = 0.6 * sim + 0.25 * place_score + 0.15 * time_score
        else:
            score = 0.85 * sim + 0.15 * time_score
        if q.subtype and row["subtype"] == q.subtype:
            score = min(1.0, score + 0.05)
            reasons.append("同一事件小类")
        if score >= q.min_score:
            out.append(
                DuplicateCandidate(
                    event=summarize(row),
                    score=round(score, 3),
                    text_similarity=round(sim, 3),
                    distance_km=round(km, 3) if km is not None else None,
                    hours_apart=round(hours, 1),
                    reasons=reasons,
                )
            )
    out.sort(key=lambda c: -c.score)
    return out[: q.limit]


def _span(hours: float) -> str:
    return f"{hours:.0f}小时" if hours < 48 else f"{hours / 24:.0f}天"
