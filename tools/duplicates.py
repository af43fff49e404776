"""``find_duplicates``: reports of the same incident, by text similarity, distance and time.

Text similarity is a cosine over character bigrams weighted by their rarity in a background
corpus of ordinary complaints (the shipped labelled set and the taxonomy's phrasings), so the
boilerplate every report shares (市民来电反映, 希望尽快处理) counts for little and what is specific
to the incident (an estate's name, a road, a shop) counts for much. A background is used rather
than the candidate pool itself, because when one incident floods the hotline its own words fill
the pool and would look like boilerplate. Bigrams are hashed (scikit-learn) so a few thousand
candidates are scored in a few milliseconds."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from domain.models import Event, Scope
from knowledge import Knowledge
from store import EventStore
from store.schema import CELL_DEG
from tools.events import EventSummary, summarize
from tools.pii import mask_names

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer

_NOISE = re.compile(r"[\s\W\d_]+", re.UNICODE)
KM_PER_DEG = 111.0


@cache
def _vectorizer() -> HashingVectorizer:
    """Character bigrams, hashed (scikit-learn is imported at the first use, not with the
    agents' graph)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char",
        ngram_range=(2, 2),
        n_features=2**18,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        preprocessor=lambda t: _NOISE.sub("", t),
    )


class DuplicateQuery(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="新事件的正文（可含标题）")
    reported_at: datetime = Field(description="新事件的上报时间")
    lat: float | None = Field(default=None, description="纬度")
    lon: float | None = Field(default=None, description="经度")
    street: str | None = Field(default=None, description="所属街道编码（无坐标时用于缩小范围）")
    subtype: str | None = Field(default=None, description="事件小类（已知时作为参考）")
    exclude_id: int | None = Field(default=None, description="排除的事件编号（通常是新事件自己）")
    window_days: float = Field(default=7, gt=0, le=90, description="前后时间窗口（天）")
    radius_km: float = Field(default=0.5, gt=0, le=5, description="空间半径（公里）")
    min_score: float = Field(default=0.35, ge=0, le=1, description="最低综合得分")
    limit: int = Field(default=10, ge=1, le=100)


def query_for(event: Event, **overrides: Any) -> DuplicateQuery:
    """The duplicate query for a stored event (itself excluded)."""
    text = f"{event.title}。{event.text}" if event.title else event.text
    return DuplicateQuery(
        text=text[:20_000],
        reported_at=event.reported_at,
        lat=event.lat,
        lon=event.lon,
        street=event.street,
        subtype=event.subtype,
        exclude_id=event.id,
        **overrides,
    )


class DuplicateCandidate(BaseModel):
    event: EventSummary
    score: float = Field(description="综合得分 0-1")
    text_similarity: float
    distance_km: float | None
    hours_apart: float
    reasons: list[str]


@cache
def background_idf(k: Knowledge) -> np.ndarray:
    """IDF of every hashed bigram over the background corpus; unseen bigrams weigh most."""
    texts = [e for st in k.subtypes.values() for e in st.examples]
    path = k.source / "labelled" / "synthetic-train.jsonl"
    if path.exists():
        texts += [
            json.loads(line)["text"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]
    df = np.asarray((_vectorizer().transform(texts) > 0).sum(axis=0)).ravel()
    return np.log((len(texts) + 1) / (df + 1)) + 1


def similarities(k: Knowledge, text: str, others: list[str]) -> np.ndarray:
    """IDF-weighted bigram cosine of ``text`` against each of ``others``."""
    return _cosines(k, _vectorizer().transform([text, *others]))


@lru_cache(maxsize=8192)
def _stored_bigrams(raw: str) -> tuple[np.ndarray, np.ndarray]:
    """The hashed bigram counts (columns, counts) of a stored report's text with its names
    masked. Memoised: the same reports are candidates for many new events (a batch from one
    street, or a day of hotline calls), and masking and hashing them is most of the work."""
    row = _vectorizer().transform([mask_names(raw)])
    return row.indices, row.data


def _memo_cosines(k: Knowledge, text: str, raws: list[str]) -> np.ndarray:
    """``similarities`` of a (masked) new text against stored texts, with the stored rows
    from the memo and the arithmetic done directly on their arrays: the same operations in
    the same order as the sparse-matrix route (elementwise weights, each row's squares
    summed by ``np.add.reduceat``, each dot product accumulated match by match in column
    order), without building half a dozen sparse matrices per event."""
    first = _vectorizer().transform([text])
    parts = [(first.indices, first.data), *(_stored_bigrams(r) for r in raws)]
    lengths = np.array([len(ix) for ix, _ in parts])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    columns = np.concatenate([ix for ix, _ in parts])
    idf = background_idf(k)
    weights = np.concatenate([d for _, d in parts]) * idf[columns]
    filled = np.flatnonzero(lengths)
    norms = np.zeros(len(parts))
    if len(filled):
        squares = weights * weights
        norms[filled] = np.add.reduceat(squares, starts[filled])
    norms = np.sqrt(norms)
    norms[norms == 0] = 1.0
    n = lengths[0]
    query_columns, query_weights = columns[:n], weights[:n]
    rest_columns, rest_weights = columns[n:], weights[n:]
    at = np.searchsorted(query_columns, rest_columns).clip(max=max(n - 1, 0))
    matched = np.flatnonzero(query_columns[at] == rest_columns) if n else np.zeros(0, dtype=np.intp)
    products = rest_weights[matched] * query_weights[at[matched]]
    rows = np.searchsorted(starts[1:] - n, matched, side="right") - 1
    dots = np.zeros(len(parts) - 1)
    np.add.at(dots, rows, products)  # in order, one product at a time
    return dots / (norms[1:] * norms[0])


def _cosines(k: Knowledge, counts: sp.csr_matrix) -> np.ndarray:
    """Cosine of the first row of ``counts`` against each other row, bigrams IDF-weighted."""
    idf = background_idf(k)
    matrix = counts.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    dots = np.asarray((matrix[1:] @ matrix[0].T).todense()).ravel()
    return dots / (norms[1:] * norms[0])


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dx = (lon2 - lon1) * KM_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * KM_PER_DEG)


def cells_around(lat: float, lon: float, km: float) -> list[str]:
    """The spatial cells (store.schema.CELL_DEG) that cover a circle of ``km`` around a point."""
    dlat = km / KM_PER_DEG
    dlon = dlat / max(0.2, math.cos(math.radians(lat)))
    rows = range(round((lat - dlat) / CELL_DEG), round((lat + dlat) / CELL_DEG) + 1)
    cols = range(round((lon - dlon) / CELL_DEG), round((lon + dlon) / CELL_DEG) + 1)
    return [f"{r}:{c}" for r in rows for c in cols]


def find_duplicates(
    store: EventStore, k: Knowledge, scope: Scope, q: DuplicateQuery
) -> list[DuplicateCandidate]:
    """查找与新事件可能是同一事项的已有事件：综合文本相似度、距离和时间窗口，返回候选及得分和理由。"""
    window = timedelta(days=q.window_days)
    located = q.lat is not None and q.lon is not None
    reach = 1.5 * q.radius_km  # beyond this the distance term adds almost nothing
    rows = store.nearby(
        scope,
        since=q.reported_at - window,
        until=q.reported_at + window,
        cells=cells_around(q.lat, q.lon, reach) if located else [],  # type: ignore[arg-type]
        streets=[q.street] if q.street else [],
        exclude_id=q.exclude_id,
    )
    distances: list[float | None] = []
    if located:
        kept = []
        for r in rows:
            km = _km(q.lat, q.lon, r["lat"], r["lon"]) if r["lat"] is not None else None  # type: ignore[arg-type]
            if km is not None and km <= reach:
                kept.append(r)
                distances.append(km)
        rows = kept
    else:
        distances = [None] * len(rows)
    if not rows:
        return []
    # names are compared masked: a report is not the same incident because a name recurs, and
    # a caller who may not see names must not find them by similarity
    sims = _memo_cosines(k, mask_names(q.text), [(r["title"] or "") + r["text"] for r in rows])

    scored = []
    for row, sim, km in zip(rows, sims, distances, strict=True):
        if sim < 0.2:
            continue
        hours = abs((row["reported_at"] - q.reported_at).total_seconds()) / 3600
        time_score = max(0.0, 1 - hours / (q.window_days * 24))
        reasons = [f"文本相似度{sim:.2f}", f"相隔{_span(hours)}"]
        if km is not None:
            reasons.append(f"相距{km * 1000:.0f}米" if km < 1 else f"相距{km:.1f}公里")
            score = 0.6 * sim + 0.25 * math.exp(-km / q.radius_km) + 0.15 * time_score
        else:
            score = 0.85 * sim + 0.15 * time_score
        if q.subtype and row["subtype"] == q.subtype:
            score = min(1.0, score + 0.05)
            reasons.append("同一事件小类")
        if score >= q.min_score:
            scored.append((float(score), float(sim), km, hours, reasons, row["id"]))
    scored.sort(key=lambda c: -c[0])
    scored = scored[: q.limit]
    details = store.summaries(scope, [c[5] for c in scored])
    return [
        DuplicateCandidate(
            event=summarize(details[i]),
            score=round(score, 3),
            text_similarity=round(sim, 3),
            distance_km=round(km, 3) if km is not None else None,
            hours_apart=round(hours, 1),
            reasons=reasons,
        )
        for score, sim, km, hours, reasons, i in scored
        if i in details
    ]


def _span(hours: float) -> str:
    return f"{hours:.0f}小时" if hours < 48 else f"{hours / 24:.0f}天"


class ReportQuery(BaseModel):
    subtype: str = Field(description="告警对应的事件小类")
    lat: float = Field(description="设备纬度")
    lon: float = Field(description="设备经度")
    at: datetime = Field(description="告警时间")
    radius_km: float = Field(default=1.0, gt=0, le=10, description="空间半径（公里）")
    window_hours: float = Field(default=24, gt=0, le=720, description="此前多少小时内的上报")
    machine_sources: list[str] = Field(
        default=["sensor", "ai_video"], description="不算作群众上报的来源"
    )


def open_reports_nearby(store: EventStore, q: ReportQuery) -> list[DuplicateCandidate]:
    """群众（热线、网络、网格）此前上报、仍在办理中的同类事件，按距离由近到远：一条感知告警
    与它们是同一事项时，告警作为重复件并入最近的一条，附上读数作为佐证。"""
    rows = store.nearby(
        Scope(everything=True),
        since=q.at - timedelta(hours=q.window_hours),
        until=q.at,
        cells=cells_around(q.lat, q.lon, q.radius_km),
    )
    ids = [r["id"] for r in rows if r["lat"] is not None]
    details = store.summaries(Scope(everything=True), ids)
    found = []
    for row in details.values():
        if row["source"] in q.machine_sources or row["subtype"] != q.subtype:
            continue
        if row["status"] in ("resolved", "verified", "closed") or row["duplicate_of"]:
            continue
        km = _km(q.lat, q.lon, row["lat"], row["lon"])
        if km > q.radius_km:
            continue
        hours = abs((q.at - row["reported_at"]).total_seconds()) / 3600
        reasons = [
            "同一事件小类",
            f"相距{km * 1000:.0f}米" if km < 1 else f"相距{km:.1f}公里",
            f"相隔{_span(hours)}",
        ]
        score = (
            0.6 + 0.25 * math.exp(-km / q.radius_km) + 0.15 * max(0.0, 1 - hours / q.window_hours)
        )
        found.append(
            DuplicateCandidate(
                event=summarize(row),
                score=round(min(1.0, score), 3),
                text_similarity=0.0,
                distance_km=round(km, 3),
                hours_apart=round(hours, 1),
                reasons=reasons,
            )
        )
    found.sort(key=lambda c: (c.distance_km or 0, -c.event.id))
    return found
