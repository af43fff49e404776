"""``trace_upstream``: from a water-quality alarm at one station, walk the river network
upstream within a travel-time horizon and rank the registered candidate sources, each with
its evidence in Chinese.

The evidence, in the order it weighs:
- topology: the pollution entered between the last clean station and the first station that
  saw it. A station between a source and the alarm that stayed clean when the water would have
  passed rules the source out; an anomalous station the source is not upstream of is one it
  cannot explain.
- timing: each anomalous station's onset minus the travel time from the source gives the time
  the pollution left the source; the stations of one true source agree on it.
- signature: what changed (溶解氧 down with 氨氮 up: sewage or livestock; 浊度: construction;
  COD and pH: industry) against what each kind of source discharges.
- registered discharge: the metrics the source is registered to discharge.

Pure: the readings and the time are passed in; no store, no clock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

from pydantic import BaseModel, Field

from domain.alarms import Reading
from domain.clock import CHINA_TZ, to_utc
from knowledge import Knowledge
from knowledge.rivers import SOURCE_KINDS, WATER_METRICS, RiverNetwork

#: -1: a drop is pollution (dissolved oxygen); +1: a rise is; 0: any departure (pH)
DIRECTION = {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 1, "ph": 0}
#: the smallest change that counts as an anomaly, whatever the noise
MIN_CHANGE = {"do_mg_l": 1.0, "nh3n_mg_l": 0.3, "cod_mg_l": 4.0, "turbidity_ntu": 10.0, "ph": 0.5}
#: how many anomalous readings in a row make an onset
RUN = 3
#: what each kind of source does to the water: -1 lowers, +1 raises (pH: moves), 0 leaves it
SIGNATURES: dict[str, dict[str, int]] = {
    "outfall": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 1, "ph": 0},
    "sewage_plant": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 0},
    "livestock": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 0},
    "industrial": {"do_mg_l": -1, "nh3n_mg_l": 0, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 1},
    "construction": {"do_mg_l": 0, "nh3n_mg_l": 0, "cod_mg_l": 0, "turbidity_ntu": 1, "ph": 0},
}
#: score factors: a clean station between the source and the alarm; an anomalous station the
#: source cannot explain
RULED_OUT = 0.05
UNEXPLAINED = 0.25
#: a station between the source and the alarm without readings when the water passed
UNVERIFIED = 0.8


class TraceQuery(BaseModel):
    station: str = Field(description="告警水质监测站的设备编号，如 QJ-WQ-05")
    metric: str = Field(description="告警指标，如 do_mg_l（溶解氧）")
    onset: datetime = Field(description="告警站点开始连续异常的时间")
    as_of: datetime | None = Field(default=None, description="只用此刻及以前的读数；不填用全部")
    horizon_hours: float = Field(default=24, gt=0, le=96, description="向上游追溯的最长流经时间")


class StationState(BaseModel):
    device_id: str
    node: str
    name: str
    status: str = Field(description="anomalous 异常 / clean 正常 / no_data 无数据")
    status_zh: str
    hours_to_alarm: float = Field(description="从该站流到告警站的小时数")
    expected_at: datetime = Field(description="污染若经过该站，应到达的时间")
    onset: datetime | None = None


class CandidateSource(BaseModel):
    rank: int
    node: str
    name: str
    kind: str
    kind_zh: str
    street: str
    street_name: str
    district: str
    district_name: str
    owner: str = Field(description="监管部门类型")
    lat: float
    lon: float
    travel_hours: float = Field(description="从该源流到告警站的小时数")
    released_at: datetime = Field(description="按告警时间推算的排放时间")
    score: float
    ruled_out: bool
    evidence: list[str]


class Crossed(BaseModel):
    code: str
    name: str
    level: str


class TraceAnswer(BaseModel):
    station: str
    station_name: str
    node: str
    lat: float = Field(description="告警站纬度")
    lon: float = Field(description="告警站经度")
    metric: str
    metric_zh: str
    onset: datetime
    horizon_hours: float
    first_seen: str | None = Field(description="最早出现异常的监测站设备编号")
    signature: dict[str, int] = Field(description="各指标变化方向：-1 下降，1 上升，0 无明显变化")
    stations: list[StationState]
    candidates: list[CandidateSource]
    top: list[str] = Field(description="最可能的源头节点")
    streets: list[Crossed] = Field(description="最可能的源头到告警站之间经过的街道（镇）")
    districts: list[Crossed] = Field(description="经过的区县")
    summary: str


def hhmm(t: datetime) -> str:
    """A time as officers read it: Beijing time, day and minute."""
    return to_utc(t).astimezone(CHINA_TZ).strftime("%m月%d日%H:%M")


def _series(readings: Sequence[Reading], as_of: datetime | None) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    limit = to_utc(as_of) if as_of else None
    for r in readings:
        if limit is None or to_utc(r.observed_at) <= limit:
            out.setdefault(r.device_id, []).append(r)
    for rs in out.values():
        rs.sort(key=lambda r: to_utc(r.observed_at))
    return out


def _noise(values: list[float]) -> float:
    """A robust noise level: the median absolute step between readings, as a deviation."""
    steps = [abs(b - a) for a, b in pairwise(values)]
    return 1.4826 * median(steps) / math.sqrt(2) if steps else 0.0


#: the readings an onset is measured against: those from 4 h to 1 h before it (a slow change,
#: such as the daily oxygen cycle, moves little in that time; a plume's front moves a lot)
BASELINE = (timedelta(hours=4), timedelta(hours=1))


def detect_onset(series: Sequence[Reading], metric: str) -> datetime | None:
    """When the metric of one station's readings first departs from its recent level for
    ``RUN`` readings in a row (None when it never does)."""
    points = [(to_utc(r.observed_at), r.metrics[metric]) for r in series if metric in r.metrics]
    if len(points) < RUN:
        return None
    limit = max(MIN_CHANGE[metric], 4 * _noise([v for _, v in points]))
    run = 0
    lo = hi = 0  # the baseline window points[lo:hi]
    for i, (t, v) in enumerate(points):
        while hi < i and points[hi][0] <= t - BASELINE[1]:
            hi += 1
        while lo < hi and points[lo][0] < t - BASELINE[0]:
            lo += 1
        if hi - lo < 2 * RUN:
            run = 0
            continue
        d = v - median(x for _, x in points[lo:hi])
        bad = {-1: d < -limit, 1: d > limit, 0: abs(d) > limit}[DIRECTION[metric]]
        run = run + 1 if bad else 0
        if run == RUN:
            return points[i - RUN + 1][0]
    return None


def signature_at(series: Sequence[Reading], onset: datetime) -> dict[str, int]:
    """Which way each metric moved at a station: the readings of the two hours after the
    onset against those of the three hours before it."""
    out: dict[str, int] = {}
    t0 = to_utc(onset)
    for metric in WATER_METRICS:
        before = [
            r.metrics[metric]
            for r in series
            if metric in r.metrics and t0 - timedelta(hours=3) <= to_utc(r.observed_at) < t0
        ]
        after = [
            r.metrics[metric]
            for r in series
            if metric in r.metrics and t0 <= to_utc(r.observed_at) <= t0 + timedelta(hours=2)
        ]
        if len(before) < RUN or not after:  # at the alarm, the change may be one reading old
            continue
        d = median(after) - median(before)
        small = MIN_CHANGE[metric] / 2
        if DIRECTION[metric] == 0:
            out[metric] = 1 if abs(d) > small else 0
        else:
            out[metric] = 1 if d > small else -1 if d < -small else 0
    return out


def _tolerance(hours: float) -> float:
    """How far an onset may be from the travel-time arithmetic: velocities are means, and a
    front spreads as it travels."""
    return 0.75 + 0.25 * hours


def _stations(
    net: RiverNetwork,
    series: dict[str, list[Reading]],
    metric: str,
    node: str,
    onset: datetime,
    above: dict[str, float],
) -> list[StationState]:
    out = []
    for device, at in net.stations.items():
        if at not in above or at == node:
            continue
        hours = above[at]
        expected = onset - timedelta(hours=hours)
        tol = timedelta(hours=_tolerance(hours))
        rs = series.get(device, [])
        seen = detect_onset(rs, metric)
        covered = [
            r
            for r in rs
            if metric in r.metrics and expected - tol <= to_utc(r.observed_at) <= expected + tol
        ]
        if seen is not None and seen <= expected + tol:
            status, zh = "anomalous", "异常"
        elif len(covered) >= RUN:
            status, zh, seen = "clean", "正常", None
        else:
            status, zh, seen = "no_data", "无数据", None
        out.append(
            StationState(
                device_id=device,
                node=at,
                name=net.nodes[at].name,
                status=status,
                status_zh=zh,
                hours_to_alarm=round(hours, 2),
                expected_at=expected,
                onset=seen,
            )
        )
    out.sort(key=lambda s: -s.hours_to_alarm)
    return out


def _describe(sig: dict[str, int]) -> str:
    words = []
    for metric, way in sig.items():
        name = WATER_METRICS[metric][0]
        if way and DIRECTION[metric] == 0:
            words.append(f"{name}异常波动")
        elif way:
            words.append(f"{name}{'上升' if way > 0 else '下降'}")
    return "、".join(words) or "各项指标无明显变化"


def trace_upstream(k: Knowledge, q: TraceQuery, readings: Sequence[Reading]) -> TraceAnswer:
    """水质告警向上游溯源：在流经时间范围内列出登记的疑似污染源，按证据打分排序，并给出源头到告警站之间经过的街道和区县。"""
    net = k.rivers
    if q.metric not in WATER_METRICS:
        raise ValueError(f"不是水质指标：{q.metric}（可用：{'、'.join(WATER_METRICS)}）")
    s_node = net.station_node(q.station)
    series = _series(readings, q.as_of)
    onset = _front(series.get(q.station, []), q)
    above = net.upstream_within(s_node.id, q.horizon_hours)
    stations = _stations(net, series, q.metric, s_node.id, onset, above)
    anomalous = [s for s in stations if s.status == "anomalous"]
    onsets = {s.device_id: s.onset or onset for s in anomalous} | {q.station: onset}
    first = min(onsets, key=lambda d: (onsets[d], -above[net.stations[d]]))
    first_series = series.get(first, [])
    sig = signature_at(first_series, onsets[first]) or signature_at(
        series.get(q.station, []), onset
    )
    changed = _describe(sig)
    name_of = {q.station: s_node.name} | {s.device_id: s.name for s in stations}

    candidates: list[CandidateSource] = []
    for node_id, hours in above.items():
        src = net.nodes[node_id]
        if not src.is_source:
            continue
        released = onset - timedelta(hours=hours)
        evidence = [
            f"距{s_node.name}约{_km(net, node_id, s_node.id):.1f}公里、流经约{hours:.1f}小时；"
            f"按告警时间推算，污染约于{hhmm(released)}从此排出"
        ]
        score = 1.0
        ruled_out = False
        downstream = set(net.path(node_id, s_node.id) or [])
        entry = net.down[node_id].downstream
        guards = [
            st for st in stations if st.status == "clean" and net.path(st.node, entry) is not None
        ]
        if guards:  # the nearest clean station above the source (stations run upstream first)
            evidence.append(f"上游{guards[-1].name}水质正常，污染从其下游进入，与本源位置相符")
        for st in stations:
            if st.node not in downstream:
                if st.status == "anomalous":
                    score *= UNEXPLAINED
                    evidence.append(
                        f"{st.name}于{hhmm(st.onset or onset)}出现异常，但本源不在其上游，无法解释"
                    )
                continue
            if st.status == "clean":
                ruled_out = True
                score *= RULED_OUT
                evidence.append(
                    f"{st.name}位于本源与告警站之间，污染应于{hhmm(st.expected_at)}前后经过，"
                    "但该站水质正常，基本排除"
                )
            elif st.status == "no_data":
                score *= UNVERIFIED
                evidence.append(f"{st.name}位于下游途中，但该时段无数据，无法佐证")
        explained = [d for d in onsets if net.stations[d] in downstream]
        if not ruled_out and explained:
            releases = [
                onsets[d] - timedelta(hours=hours - above[net.stations[d]]) for d in explained
            ]
            spread = (max(releases) - min(releases)).total_seconds() / 3600
            timing = math.exp(-spread / _tolerance(hours))
            score *= timing
            if len(explained) > 1:
                order = "、".join(name_of[d] for d in sorted(explained, key=lambda d: onsets[d]))
                evidence.append(
                    f"下游{len(explained)}个站依次异常（{order}），"
                    f"推算排放时间相差{spread * 60:.0f}分钟，"
                    + ("与流经时间吻合" if timing > 0.5 else "与流经时间不太吻合")
                )
            if first in explained and first != q.station:
                evidence.append(f"最早异常的{name_of[first]}（{hhmm(onsets[first])}）在本源下游")
        expected = SIGNATURES[src.kind]
        observed = [m for m in sig if m in expected]
        matched = [m for m in observed if sig[m] == expected[m]]
        fit = len(matched) / len(observed) if observed else 0.5
        score *= 0.2 + 0.8 * fit
        if observed:
            evidence.append(
                f"观测到{changed}，与{src.kind_zh}的排放特征"
                f"{'相符' if fit >= 0.8 else '部分相符' if fit >= 0.5 else '不符'}"
                f"（{len(matched)}/{len(observed)}项）"
            )
        rising = {m for m, way in sig.items() if way and m != "do_mg_l"}
        if src.registered and rising & set(src.discharge):
            evidence.append(
                "登记排放"
                + "、".join(WATER_METRICS[m][0] for m in src.discharge)
                + "，与上升指标一致"
            )
        elif src.registered:
            score *= 0.75
            evidence.append(
                "登记排放"
                + "、".join(WATER_METRICS[m][0] for m in src.discharge)
                + "，与本次变化不符"
            )
        else:
            score *= 0.9
            evidence.append("无登记排放记录，需现场核查是否偷排")
        street = k.jurisdiction(src.street)
        district = k.jurisdiction(street.parent or street.code)
        candidates.append(
            CandidateSource(
                rank=0,
                node=src.id,
                name=src.name,
                kind=src.kind,
                kind_zh=SOURCE_KINDS[src.kind],
                street=street.code,
                street_name=street.name,
                district=district.code,
                district_name=district.name,
                owner=src.owner,
                lat=src.lat,
                lon=src.lon,
                travel_hours=round(hours, 2),
                released_at=released,
                score=round(score, 3),
                ruled_out=ruled_out,
                evidence=evidence,
            )
        )
    candidates.sort(key=lambda c: (c.ruled_out, -c.score, c.travel_hours))
    for i, c in enumerate(candidates, 1):
        c.rank = i
    top = _top(candidates)
    streets, districts = _crossed(k, net, [c.node for c in top], s_node.id)
    return TraceAnswer(
        station=q.station,
        station_name=s_node.name,
        node=s_node.id,
        lat=s_node.lat,
        lon=s_node.lon,
        metric=q.metric,
        metric_zh=WATER_METRICS[q.metric][0],
        onset=onset,
        horizon_hours=q.horizon_hours,
        first_seen=first,
        signature=sig,
        stations=stations,
        candidates=candidates,
        top=[c.node for c in top],
        streets=streets,
        districts=districts,
        summary=_summary(
            q, onset, s_node.name, name_of[first], onsets[first], changed, top, districts
        ),
    )


def _front(series: list[Reading], q: TraceQuery) -> datetime:
    """When the change at the alarm station began: a threshold rule fires when the value
    crosses a limit, which may be hours after the plume's front arrived; the station's own
    readings tell when they departed from their recent level."""
    alarm = to_utc(q.onset)
    seen = detect_onset(
        [r for r in series if to_utc(r.observed_at) <= alarm + timedelta(hours=1)], q.metric
    )
    if seen is not None and alarm - timedelta(hours=q.horizon_hours) <= seen < alarm:
        return seen
    return alarm


def _km(net: RiverNetwork, start: str, end: str) -> float:
    nodes = net.path(start, end) or [start]
    return sum(net.down[n].length_km for n in nodes[:-1])


def _top(candidates: list[CandidateSource]) -> list[CandidateSource]:
    """The sources worth acting on: the best, and those scoring at least half as well (at most
    three), none ruled out."""
    live = [c for c in candidates if not c.ruled_out and c.score > 0]
    if not live:
        return []
    return [c for c in live if c.score >= live[0].score / 2][:3]


def _crossed(
    k: Knowledge, net: RiverNetwork, sources: list[str], station: str
) -> tuple[list[Crossed], list[Crossed]]:
    """The streets and districts the water crosses from the top sources down to the station,
    upstream first."""
    streets: list[str] = []
    for src in sources:
        for n in net.path(src, station) or []:
            if net.nodes[n].street not in streets:
                streets.append(net.nodes[n].street)
    if not sources:
        streets = [net.nodes[station].street]
    districts: list[str] = []
    for code in streets:
        parent = k.jurisdiction(code).parent
        if parent and parent not in districts:
            districts.append(parent)

    def crossed(code: str) -> Crossed:
        j = k.jurisdiction(code)
        return Crossed(code=j.code, name=j.name, level=j.level)

    return [crossed(c) for c in streets], [crossed(c) for c in districts]


def _summary(
    q: TraceQuery,
    onset: datetime,
    station: str,
    first: str,
    first_at: datetime,
    changed: str,
    top: list[CandidateSource],
    districts: list[Crossed],
) -> str:
    metric = WATER_METRICS[q.metric][0]
    began = hhmm(onset)
    if onset != to_utc(q.onset):
        began += f"（{hhmm(q.onset)}触发告警）"
    text = (
        f"{station}{metric}自{began}起持续异常（{changed}）；"
        f"最早出现异常的是{first}（{hhmm(first_at)}）。"
    )
    if not top:
        return text + f"上游{q.horizon_hours:g}小时流程内未找到符合证据的登记污染源，请现场排查。"
    names = "；".join(f"{c.name}（{c.kind_zh}，{c.street_name}，得分{c.score:.2f}）" for c in top)
    text += f"最可能的源头：{names}。"
    if len(districts) > 1:
        text += f"污染经过{'、'.join(d.name for d in districts)}，需跨区县联合处置。"
    return text
