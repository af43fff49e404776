"""``trace_upstream``: from a water-quality alarm at one station, walk the river network
upstream within a travel-time horizon and rank the registered candidate sources, each with
its evidence in Chinese.

The evidence, in the order it weighs:
- topology: the pollution entered between the last clean station and the first station that
  saw it. A station between a source and the alarm that stayed clean when the water would have
  passed rules the source out; an anomalous station the source is not upstream of is one it
  cannot explain; an anomaly of the alarm metric alone, where the alarm station shows other
  changes too (a fouled probe), confirms and rules out nothing.
- timing: each anomalous station's onset minus the travel time from the source gives the time
  the pollution left the source; the stations of one true source agree on it.
- signature: what changed (溶解氧 down with 氨氮 up: sewage or livestock; 浊度: construction;
  COD and pH: industry) against what each kind of source discharges.
- registered discharge: the metrics the source is registered to discharge.

Pure: the readings and the time are passed in; no store, no clock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from domain.alarms import Reading
from domain.clock import CHINA_TZ, to_utc
from knowledge import Knowledge
from knowledge.rivers import SOURCE_KINDS, WATER_METRICS, RiverNetwork, RiverNode
from tools.signals import RUN, SIGNATURES, describe, detect_onset, signature_at

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
    status: str = Field(
        description="anomalous 异常 / unlike 异常但变化特征不同 / clean 正常 / no_data 无数据"
    )
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
    alarm_sig: dict[str, int],
) -> list[StationState]:
    """Each station upstream within the horizon around the time the water now at the alarm
    passed it: anomalous (the same kind of change), unlike (an anomaly of the alarm's metric
    without the other changes the alarm station shows: a fouled probe, another cause), clean
    (readings then, no anomaly), or no data."""
    others = {m: way for m, way in alarm_sig.items() if way and m != metric}
    out = []
    for device, at in net.stations.items():
        if at not in above or at == node:
            continue
        hours = above[at]
        expected = onset - timedelta(hours=hours)
        tol = timedelta(hours=_tolerance(hours))
        rs = series.get(device, [])
        seen = detect_onset(rs, metric, since=expected - tol)
        covered = [
            r
            for r in rs
            if metric in r.metrics and expected - tol <= to_utc(r.observed_at) <= expected + tol
        ]
        if seen is not None and seen <= expected + tol:
            sig = signature_at(rs, seen)
            alike = not others or any(sig.get(m) == way for m, way in others.items())
            status, zh = ("anomalous", "异常") if alike else ("unlike", "异常但变化特征不同")
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


@dataclass(frozen=True)
class _Scene:
    """What the readings say around one alarm, shared by every candidate's scoring."""

    net: RiverNetwork
    station: str  # the alarm's device
    node: RiverNode  # its station node
    above: dict[str, float]  # node -> hours down to the station
    stations: list[StationState]
    onsets: dict[str, datetime]  # anomalous device (the alarm's included) -> onset
    first: str  # the device that saw it first
    sig: dict[str, int]  # at the first station that saw it
    alarm_sig: dict[str, int]  # at the alarm station
    name_of: dict[str, str]


def trace_upstream(k: Knowledge, q: TraceQuery, readings: Sequence[Reading]) -> TraceAnswer:
    """水质告警向上游溯源：在流经时间范围内列出登记的疑似污染源，按证据打分排序，并给出源头到告警站之间经过的街道和区县。"""
    net = k.rivers
    if q.metric not in WATER_METRICS:
        raise ValueError(f"不是水质指标：{q.metric}（可用：{'、'.join(WATER_METRICS)}）")
    s_node = net.station_node(q.station)
    series = _series(readings, q.as_of)
    onset = _front(series.get(q.station, []), q)
    above = net.upstream_within(s_node.id, q.horizon_hours)
    alarm_sig = signature_at(series.get(q.station, []), onset)
    stations = _stations(net, series, q.metric, s_node.id, onset, above, alarm_sig)
    onsets = {s.device_id: s.onset or onset for s in stations if s.status == "anomalous"}
    onsets[q.station] = onset
    first = min(onsets, key=lambda d: (onsets[d], -above[net.stations[d]]))
    sig = signature_at(series.get(first, []), onsets[first]) or alarm_sig
    scene = _Scene(
        net=net,
        station=q.station,
        node=s_node,
        above=above,
        stations=stations,
        onsets=onsets,
        first=first,
        sig=sig,
        alarm_sig=alarm_sig,
        name_of={q.station: s_node.name} | {s.device_id: s.name for s in stations},
    )
    candidates = [
        _candidate(k, scene, node_id, hours)
        for node_id, hours in above.items()
        if net.nodes[node_id].is_source
    ]
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
        summary=_summary(q, onset, scene, top, districts),
    )


def _candidate(k: Knowledge, s: _Scene, node_id: str, hours: float) -> CandidateSource:
    """One source scored: its topology against the stations, the timing of the stations
    below it, its kind's signature, its registered discharge."""
    net, src = s.net, s.net.nodes[node_id]
    released = s.onsets[s.station] - timedelta(hours=hours)
    evidence = [
        f"距{s.node.name}约{_km(net, node_id, s.node.id):.1f}公里、流经约{hours:.1f}小时；"
        f"按告警时间推算，污染约于{hhmm(released)}从此排出"
    ]
    score, ruled_out = _topology(s, node_id, evidence)
    if not ruled_out:
        score *= _timing(s, node_id, hours, evidence)
    score *= _signature_fit(s, src, evidence) * _registered(s, src, evidence)
    street = k.jurisdiction(src.street)
    district = k.jurisdiction(street.parent or street.code)
    return CandidateSource(
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


def _topology(s: _Scene, node_id: str, evidence: list[str]) -> tuple[float, bool]:
    """A clean station between the source and the alarm rules it out; an anomalous station
    it is not upstream of is one it cannot explain; a silent one on the way cannot confirm."""
    net = s.net
    downstream = set(net.path(node_id, s.node.id) or [])
    entry = net.down[node_id].downstream
    guards = [st for st in s.stations if st.status == "clean" and net.path(st.node, entry)]
    if guards:  # the nearest clean station above the source (stations run upstream first)
        evidence.append(f"上游{guards[-1].name}水质正常，污染从其下游进入，与本源位置相符")
    score, ruled_out = 1.0, False
    for st in s.stations:
        if st.node not in downstream:
            if st.status == "anomalous":
                score *= UNEXPLAINED
                evidence.append(
                    f"{st.name}于{hhmm(st.onset or s.onsets[s.station])}出现异常，"
                    "但本源不在其上游，无法解释"
                )
        elif st.status == "clean":
            ruled_out = True
            score *= RULED_OUT
            evidence.append(
                f"{st.name}位于本源与告警站之间，污染应于{hhmm(st.expected_at)}前后经过，"
                "但该站水质正常，基本排除"
            )
        elif st.status == "no_data":
            score *= UNVERIFIED
            evidence.append(f"{st.name}位于下游途中，但该时段无数据，无法佐证")
        elif st.status == "unlike":
            score *= UNVERIFIED
            evidence.append(
                f"{st.name}位于下游途中，同期只出现与告警站不同的异常"
                "（可能是设备或其他原因），无法佐证"
            )
    return score, ruled_out


def _timing(s: _Scene, node_id: str, hours: float, evidence: list[str]) -> float:
    """The stations below the source that saw the plume agree on when it left the source
    (each onset minus the travel time from the source)."""
    downstream = set(s.net.path(node_id, s.node.id) or [])
    explained = [d for d in s.onsets if s.net.stations[d] in downstream]
    if not explained:
        return 1.0
    releases = [
        s.onsets[d] - timedelta(hours=hours - s.above[s.net.stations[d]]) for d in explained
    ]
    spread = (max(releases) - min(releases)).total_seconds() / 3600
    timing = math.exp(-spread / _tolerance(hours))
    if len(explained) > 1:
        order = "、".join(s.name_of[d] for d in sorted(explained, key=lambda d: s.onsets[d]))
        evidence.append(
            f"下游{len(explained)}个站依次异常（{order}），推算排放时间相差{spread * 60:.0f}分钟，"
            + ("与流经时间吻合" if timing > 0.5 else "与流经时间不太吻合")
        )
    if s.first in explained and s.first != s.station:
        evidence.append(f"最早异常的{s.name_of[s.first]}（{hhmm(s.onsets[s.first])}）在本源下游")
    return timing


def _signature_fit(s: _Scene, src: RiverNode, evidence: list[str]) -> float:
    expected = SIGNATURES[src.kind]
    observed = [m for m in s.sig if m in expected]
    matched = [m for m in observed if s.sig[m] == expected[m]]
    fit = len(matched) / len(observed) if observed else 0.5
    if observed:
        evidence.append(
            f"观测到{describe(s.sig)}，与{src.kind_zh}的排放特征"
            f"{'相符' if fit >= 0.8 else '部分相符' if fit >= 0.5 else '不符'}"
            f"（{len(matched)}/{len(observed)}项）"
        )
    return 0.2 + 0.8 * fit


def _registered(s: _Scene, src: RiverNode, evidence: list[str]) -> float:
    names = "、".join(WATER_METRICS[m][0] for m in src.discharge)
    rising = {m for m, way in s.sig.items() if way and m != "do_mg_l"}
    if src.registered and rising & set(src.discharge):
        evidence.append(f"登记排放{names}，与上升指标一致")
        return 1.0
    if src.registered:
        evidence.append(f"登记排放{names}，与本次变化不符")
        return 0.75
    evidence.append("无登记排放记录，需现场核查是否偷排")
    return 0.9


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
    s: _Scene,
    top: list[CandidateSource],
    districts: list[Crossed],
) -> str:
    metric = WATER_METRICS[q.metric][0]
    began = hhmm(onset)
    if onset != to_utc(q.onset):
        began += f"（{hhmm(q.onset)}触发告警）"
    text = (
        f"{s.node.name}{metric}自{began}起持续异常（{describe(s.sig)}）；"
        f"最早出现异常的是{s.name_of[s.first]}（{hhmm(s.onsets[s.first])}）。"
    )
    others = [m for m, way in s.alarm_sig.items() if m != q.metric]
    if s.alarm_sig.get(q.metric) and others and not any(s.alarm_sig[m] for m in others):
        text += (
            f"告警站仅{metric}变化、其他指标未见异常，也可能是探头污损等设备原因，请先核实设备。"
        )
    if not top:
        return (
            text + f"上游{q.horizon_hours:g}小时流经范围内未找到符合证据的登记污染源，请现场排查。"
        )
    names = "；".join(f"{c.name}（{c.kind_zh}，{c.street_name}，得分{c.score:.2f}）" for c in top)
    text += f"最可能的源头：{names}。"
    if len(districts) > 1:
        text += f"污染经过{'、'.join(d.name for d in districts)}，需跨区县联合处置。"
    return text
