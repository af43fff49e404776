"""Upstream tracing and joint warning on the shipped 綦江 network: a planted source is found,
clean stations rule sources out, the arithmetic of travel times holds, and a plume that
crosses districts is warned at the city with every crossed jurisdiction assisting."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from demo.episodes import first_alarm, plume, pollution_episode
from domain.alarms import Reading
from domain.clock import CHINA_TZ
from domain.vocabulary import Level
from knowledge import Knowledge
from tools.jointwarning import joint_warning
from tools.signals import detect_onset
from tools.tracing import TraceQuery, trace_upstream

DAY = datetime(2026, 6, 1, tzinfo=CHINA_TZ)
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def _series(device: str, do: Callable[[float], float], hours: float = 12) -> list[Reading]:
    """Readings every 5 minutes from T0; ``do`` gives dissolved oxygen at hour h, and ammonia
    rises by as much as oxygen falls below 8."""
    out = []
    for i in range(int(hours * 12)):
        h = i / 12
        v = do(h)
        out.append(
            Reading(
                message_id=f"{device}-{i}",
                device_id=device,
                observed_at=T0 + timedelta(hours=h),
                metrics={
                    "do_mg_l": v,
                    "nh3n_mg_l": 0.3 + max(0.0, 8.0 - v) * 0.8,
                    "cod_mg_l": 12 + max(0.0, 8.0 - v) * 5,
                    "ph": 7.6,
                    "turbidity_ntu": 15 + max(0.0, 8.0 - v) * 10,
                },
            )
        )
    return out


def _drop_at(hour: float) -> Callable[[float], float]:
    return lambda h: 4.0 if h >= hour else 8.0


def _clean(h: float) -> float:
    return 8.0 + (0.05 if int(h * 12) % 2 else -0.05)


def _by_node(answer_nodes: list[str], node: str) -> int:
    return answer_nodes.index(node) + 1


def test_planted_outfall_is_traced_at_rank_one(knowledge: Knowledge) -> None:
    ep = pollution_episode(
        knowledge, source="qj-s09", day=DAY, starts_at=DAY + timedelta(hours=6), seed=7
    )
    alarm = first_alarm(ep)
    assert alarm is not None and alarm[0] == "QJ-WQ-05"  # 三江, the first station below 文龙
    station, onset = alarm
    answer = trace_upstream(
        knowledge, TraceQuery(station=station, metric="do_mg_l", onset=onset), ep.readings
    )
    best = answer.candidates[0]
    assert best.node == "qj-s09" and best.rank == 1 and not best.ruled_out
    assert any("排污口的排放特征相符" in e for e in best.evidence)
    # the plume came through neither 古南 nor 万盛: their sources are ruled out
    by_node = {c.node: c for c in answer.candidates}
    for node in ("qj-s07", "qj-s08", "qj-s15"):
        assert by_node[node].ruled_out and by_node[node].rank > len(answer.top)
    states = {s.device_id: s.status for s in answer.stations}
    assert states["QJ-WQ-04"] == "clean" and states["QJ-WQ-07"] == "clean"
    assert "文龙街道沱湾雨污混流排污口" in answer.summary


def test_episode_moves_downstream_stations_in_travel_order(knowledge: Knowledge) -> None:
    ep = pollution_episode(
        knowledge, source="qj-s09", day=DAY, starts_at=DAY + timedelta(hours=2), seed=3
    )
    onsets = {}
    for device in knowledge.rivers.stations:
        series = [r for r in ep.readings if r.device_id == device]
        onsets[device] = detect_onset(series, "do_mg_l")
    assert onsets["QJ-WQ-05"] is not None and onsets["QJ-WQ-06"] is not None
    assert onsets["QJ-WQ-05"] < onsets["QJ-WQ-06"]
    # upstream and the other branch stay normal
    assert all(onsets[d] is None for d in ("QJ-WQ-01", "QJ-WQ-02", "QJ-WQ-03", "QJ-WQ-04"))
    assert onsets["QJ-WQ-07"] is None
    # the plume arrives about when the travel time says
    hours = knowledge.rivers.travel_hours("qj-s09", "qj-w05") or 0
    arrival = DAY + timedelta(hours=2 + hours)
    assert abs((onsets["QJ-WQ-05"] - arrival).total_seconds()) < 3600


def test_clean_station_between_rules_a_source_out(knowledge: Knowledge) -> None:
    # 三江 drops at 8:00; 古南 (4.3 h above) stays clean: 桥河 (above 古南) is ruled out
    readings = _series("QJ-WQ-05", _drop_at(8)) + _series("QJ-WQ-04", _clean)
    answer = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-05", metric="do_mg_l", onset=T0 + timedelta(hours=8)),
        readings,
    )
    by_node = {c.node: c for c in answer.candidates}
    qiaohe = by_node["qj-s08"]
    assert qiaohe.ruled_out
    assert any("綦江古南水质自动监测站位于本源与告警站之间" in e for e in qiaohe.evidence)
    assert not by_node["qj-s09"].ruled_out
    assert by_node["qj-s09"].rank < qiaohe.rank


def test_anomaly_seen_upstream_first_moves_the_source_up(knowledge: Knowledge) -> None:
    # now 古南 saw it first, at the time the water takes to 三江: 桥河 explains both stations,
    # the 文龙 outfall below 古南 cannot explain 古南's anomaly
    hours = knowledge.rivers.travel_hours("qj-w04", "qj-w05") or 0
    readings = _series("QJ-WQ-05", _drop_at(8)) + _series("QJ-WQ-04", _drop_at(8 - hours))
    answer = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-05", metric="do_mg_l", onset=T0 + timedelta(hours=8)),
        readings,
    )
    by_node = {c.node: c for c in answer.candidates}
    assert answer.first_seen == "QJ-WQ-04"
    assert not by_node["qj-s08"].ruled_out
    assert by_node["qj-s08"].rank < by_node["qj-s09"].rank
    assert any("无法解释" in e for e in by_node["qj-s09"].evidence)
    assert any("推算排放时间相差" in e for e in by_node["qj-s08"].evidence)


def test_silent_station_rules_nothing_out(knowledge: Knowledge) -> None:
    answer = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-05", metric="do_mg_l", onset=T0 + timedelta(hours=8)),
        _series("QJ-WQ-05", _drop_at(8)),
    )
    by_node = {c.node: c for c in answer.candidates}
    assert not by_node["qj-s08"].ruled_out
    assert any("无数据" in e for e in by_node["qj-s08"].evidence)


def test_release_time_is_onset_minus_travel_time(knowledge: Knowledge) -> None:
    onset = T0 + timedelta(hours=8)
    answer = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-05", metric="do_mg_l", onset=onset, horizon_hours=5),
        _series("QJ-WQ-05", _drop_at(8)),
    )
    for c in answer.candidates:
        hours = knowledge.rivers.travel_hours(c.node, "qj-w05")
        assert hours is not None and hours <= 5
        assert c.travel_hours == pytest.approx(hours, abs=0.01)
        assert c.released_at == onset - timedelta(hours=hours)
    # the horizon bounds the walk: 东溪's sources are 11 h up
    assert "qj-s06" not in {c.node for c in answer.candidates}


def test_bad_metric_and_unknown_station_are_clear(knowledge: Knowledge) -> None:
    with pytest.raises(ValueError, match="不是水质指标"):
        trace_upstream(knowledge, TraceQuery(station="QJ-WQ-05", metric="level_m", onset=T0), [])
    with pytest.raises(KeyError, match="不是河流网络上的水质监测站"):
        trace_upstream(knowledge, TraceQuery(station="XX-01", metric="do_mg_l", onset=T0), [])


def test_joint_warning_inside_one_district(knowledge: Knowledge) -> None:
    readings = _series("QJ-WQ-05", _drop_at(8)) + _series("QJ-WQ-04", _clean)
    trace = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-05", metric="do_mg_l", onset=T0 + timedelta(hours=8)),
        readings,
    )
    jw = joint_warning(knowledge, trace)
    assert [d.name for d in trace.districts] == ["綦江区"]
    assert jw.level is Level.DISTRICT and jw.lead.code == "500110.eco_env"
    codes = {a.code for a in jw.assisting}
    for street in trace.streets:
        assert f"{street.code}.street_office" in codes
    assert "500110.water" in codes
    assert "ESC-R-04" not in {r.id for r in jw.escalation}


def test_joint_warning_across_districts_goes_to_the_city(knowledge: Knowledge) -> None:
    # 支坪 (江津区) drops; 三江 (綦江区) dropped first, as the water takes: a 綦江 source
    hours = knowledge.rivers.travel_hours("qj-w05", "qj-w06") or 0
    readings = (
        _series("QJ-WQ-06", _drop_at(14), hours=20)
        + _series("QJ-WQ-05", _drop_at(14 - hours), hours=20)
        + _series("QJ-WQ-04", _clean, hours=20)
        + _series("QJ-WQ-07", _clean, hours=20)
    )
    trace = trace_upstream(
        knowledge,
        TraceQuery(station="QJ-WQ-06", metric="do_mg_l", onset=T0 + timedelta(hours=14)),
        readings,
    )
    assert trace.candidates[0].district_name == "綦江区"
    assert [d.name for d in trace.districts] == ["綦江区", "江津区"]
    jw = joint_warning(knowledge, trace)
    assert jw.level is Level.CITY and "ESC-R-04" in {r.id for r in jw.escalation}
    assert jw.lead.code == "500000.eco_env"
    codes = {a.code for a in jw.assisting}
    assert {"500110.eco_env", "500116.eco_env", "500110.water", "500116.water"} <= codes
    assert {"500116118.street_office", "500116124.street_office"} <= codes  # 贾嗣, 支坪
    assert "綦江区、江津区" in trace.summary and "ESC-R-04" in jw.explanation


def test_plume_adds_its_effect_downstream_only(knowledge: Knowledge) -> None:
    p = plume(knowledge, source="qj-s09", starts_at=DAY + timedelta(hours=6), hours=4)
    assert p.arrival("QJ-WQ-04") is None and p.effect("QJ-WQ-04", DAY + timedelta(hours=12)) == {}
    sanjiang, zhiping = p.arrival("QJ-WQ-05"), p.arrival("QJ-WQ-06")
    assert sanjiang is not None and zhiping is not None and sanjiang < zhiping
    assert p.effect("QJ-WQ-05", sanjiang - timedelta(minutes=5)) == {}
    near = p.effect("QJ-WQ-05", sanjiang + timedelta(hours=2))
    far = p.effect("QJ-WQ-06", zhiping + timedelta(hours=2))
    assert near["do_mg_l"] < far["do_mg_l"] < 0  # oxygen falls, less after dilution
    assert near["nh3n_mg_l"] > far["nh3n_mg_l"] > 0
    assert p.effect("QJ-WQ-05", sanjiang + timedelta(hours=12)) == {}  # the discharge stopped


def test_a_fouled_probe_off_the_way_does_not_lead_the_trace_astray(knowledge: Knowledge) -> None:
    # 古南 (above the 文龙 outfall) fouls its oxygen probe when the plume would have passed it:
    # only oxygen moves there, so it neither explains nor rules out anything
    hours = knowledge.rivers.travel_hours("qj-w04", "qj-w05") or 0
    start = DAY + timedelta(hours=6)
    ep = pollution_episode(
        knowledge,
        source="qj-s09",
        day=DAY - timedelta(hours=12),
        span_hours=36,
        starts_at=start,
        seed=7,
        decoy=("QJ-WQ-04", start + timedelta(hours=3.6 - hours)),
    )
    alarm = first_alarm(ep, plume_only=True)
    assert alarm is not None and alarm[0] == "QJ-WQ-05"
    answer = trace_upstream(
        knowledge, TraceQuery(station=alarm[0], metric="do_mg_l", onset=alarm[1]), ep.readings
    )
    assert answer.candidates[0].node == "qj-s09"
    assert {s.device_id: s.status for s in answer.stations}["QJ-WQ-04"] == "unlike"
    # the fouled station's own alarm: only oxygen moved, the officer is told to check the probe
    own = detect_onset([r for r in ep.readings if r.device_id == "QJ-WQ-04"], "do_mg_l")
    assert own is not None
    traced = trace_upstream(
        knowledge, TraceQuery(station="QJ-WQ-04", metric="do_mg_l", onset=own), ep.readings
    )
    assert "可能是探头污损等设备原因" in traced.summary


def test_no_source_within_the_horizon_says_so(knowledge: Knowledge) -> None:
    trace = trace_upstream(
        knowledge,
        TraceQuery(
            station="QJ-WQ-01",
            metric="do_mg_l",
            onset=T0 + timedelta(hours=8),
            horizon_hours=1,
        ),
        _series("QJ-WQ-01", _drop_at(8)),
    )
    assert trace.candidates == [] and trace.top == []
    assert "上游1小时流经范围内未找到符合证据的登记污染源，请现场排查" in trace.summary
    assert [s.name for s in trace.streets] == ["安稳镇"]
    jw = joint_warning(knowledge, trace)
    assert jw.lead.code == "500110.eco_env"
    assert "500110119.street_office" in {a.code for a in jw.assisting}
