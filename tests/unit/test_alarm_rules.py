"""Perception's knowledge (device kinds, alarm rules, device registry) and the pure rule
evaluation of tools/alarms.py: every rule type, hysteresis, stuck and silent."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knowledge import Knowledge, KnowledgeError, load_knowledge
from knowledge.base import DATA_DIR
from knowledge.sensing import AlarmRule, DeviceKind
from tools.alarms import OpenAlarm, Sample, evaluate, expired, is_silent, trim

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


# -- knowledge ---------------------------------------------------------------------------


def test_shipped_registry_and_rules_load(knowledge: Knowledge) -> None:
    s = knowledge.sensing
    assert {
        "water_quality",
        "water_level",
        "rain_gauge",
        "ai_video",
        "crowd_counter",
        "manhole",
        "gas",
    } <= set(s.kinds)
    demo = [d for d in s.devices.values() if d.source_file == "demo.yaml"]
    assert 40 <= len(demo) <= 80
    types = {r.type for r in s.rules}
    assert types == {
        "threshold",
        "consecutive",
        "rate",
        "duration",
        "combination",
        "detection",
        "silent",
        "stuck",
    }
    for kind in s.kinds:  # every kind can tell when its devices go quiet
        assert any(r.type == "silent" for r in s.rules_of(kind)), kind
    crowd = [d for d in demo if d.kind == "crowd_counter"]
    assert {knowledge.jurisdiction(d.street or "").name for d in crowd} >= {"解放碑街道"}
    assert all(knowledge.jurisdiction(d.district).level == "district" for d in demo)


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(
        i
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if needle in line
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    subtype: EN06\n    urgency: urgent\n  - id: AR-WQ-02",
            "    subtype: XX99\n    urgency: urgent\n  - id: AR-WQ-02",
            "unknown subtype XX99",
        ),
        ("when: {metric: nh3n_mg_l,", "when: {metric: nh4_mg_l,", "has no metric nh4_mg_l"),
        ("label: muck_truck", "label: muck_lorry", "has no label muck_lorry"),
        (
            "  - id: AR-WQ-02\n    kind: water_quality",
            "  - id: AR-WQ-02\n    kind: water_qualty",
            "unknown device kind water_qualty",
        ),
        ("    count: 3\n    clear: {value: 4.0", "    clear: {value: 4.0", "needs count"),
    ],
)
def test_a_wrong_rule_names_file_and_line(kdir: Path, old: str, new: str, message: str) -> None:
    path = kdir / "alarm_rules.yaml"
    _edit(path, old, new)
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kdir)
    assert err.value.path == path
    assert message in err.value.message
    assert err.value.line is not None and err.value.line > 30


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("kind", "kind: water_level, name: 渝中区菜园坝", "unknown device kind"),
        ("street", 'street: "500103007"', "unknown street"),
        ("owner", "owner: urban_mgmt, interval_s: 300}", "unknown department type"),
    ],
)
def test_a_wrong_device_names_file_and_line(kdir: Path, field: str, bad: str, message: str) -> None:
    path = kdir / "devices" / "demo.yaml"
    line = _line_of(path, "YZ-WL-01")
    wrong = {
        "kind": "kind: water_levels, name: 渝中区菜园坝",
        "street": 'street: "500103999"',
        "owner": "owner: urban_mgnt, interval_s: 300}",
    }[field]
    _edit(path, bad, wrong)
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kdir)
    assert err.value.path == path and err.value.line == line
    assert message in err.value.message and "YZ-WL-01" in err.value.message


def test_a_device_id_used_twice_across_files_is_refused(kdir: Path) -> None:
    extra = kdir / "devices" / "zz-extra.yaml"
    extra.write_text(
        'devices:\n  - {id: YZ-WL-01, kind: rain_gauge, name: 重复, district: "500103", '
        "lat: 29.55, lon: 106.56, owner: water, interval_s: 60}\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kdir)
    assert err.value.path == extra and err.value.line == 2
    assert re.search(r"duplicate device id YZ-WL-01 \(also in demo\.yaml:\d+\)", err.value.message)


def test_device_thresholds_move_the_rule_and_its_clear_value(knowledge: Knowledge) -> None:
    s = knowledge.sensing
    device = s.devices["YZ-WL-01"].model_copy(update={"thresholds": {"level_m": 0.5}})
    rule = next(r for r in s.rules_for(device) if r.id == "AR-WL-01")
    assert rule.when is not None and rule.when.value == 0.5
    assert rule.clear is not None and rule.clear.value == pytest.approx(0.35)
    combined = next(r for r in s.rules_for(device) if r.id == "AR-WL-03")
    assert combined == s.rule("AR-WL-03")  # combination rules keep their own values


# -- evaluation --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k() -> Knowledge:
    from knowledge import default_knowledge

    return default_knowledge()


def rule(k: Knowledge, rule_id: str) -> AlarmRule:
    found = k.sensing.rule(rule_id)
    assert found is not None
    return found


def kind(k: Knowledge, code: str) -> DeviceKind:
    return k.sensing.kinds[code]


def series(metric: str, values: list[float], every: int = 5) -> list[Sample]:
    return [Sample(T0 + timedelta(minutes=every * i), {metric: v}) for i, v in enumerate(values)]


def run(
    k: Knowledge,
    code: str,
    rule_ids: list[str],
    window: list[Sample],
    opened: dict[str, OpenAlarm] | None = None,
) -> tuple[set[str], set[str], dict[str, int]]:
    rules = [rule(k, r) for r in rule_ids]
    ev = evaluate(kind(k, code), rules, window, opened or {}, window[-1].at)
    return {f.rule.id for f in ev.fired}, set(ev.cleared), ev.normal


def test_threshold_fires_on_the_reading_that_crosses(k: Knowledge) -> None:
    assert run(k, "gas", ["AR-GS-01"], series("ch4_pct_lel", [5, 19.9]))[0] == set()
    fired, _, _ = run(k, "gas", ["AR-GS-01"], series("ch4_pct_lel", [5, 20]))
    assert fired == {"AR-GS-01"}


def test_n_in_a_row_needs_all_n(k: Knowledge) -> None:
    assert run(k, "water_quality", ["AR-WQ-01"], series("do_mg_l", [2.5, 5.0, 2.8]))[0] == set()
    assert run(k, "water_quality", ["AR-WQ-01"], series("do_mg_l", [2.5, 2.4]))[0] == set()
    fired, _, _ = run(k, "water_quality", ["AR-WQ-01"], series("do_mg_l", [6, 2.5, 2.4, 2.1]))
    assert fired == {"AR-WQ-01"}
    ev = evaluate(
        kind(k, "water_quality"),
        [rule(k, "AR-WQ-01")],
        series("do_mg_l", [6, 2.5, 2.4, 2.1]),
        {},
        T0,
    )
    assert "连续3次低于3" in ev.fired[0].why and "2.1" in ev.fired[0].why


def test_rate_of_change_within_its_minutes(k: Knowledge) -> None:
    # a drop of 2.5 mg/L over 30 minutes fires; the same drop over 90 minutes does not
    fast = series("do_mg_l", [7.0, 6.0, 5.0, 4.5], every=10)
    assert run(k, "water_quality", ["AR-WQ-05"], fast)[0] == {"AR-WQ-05"}
    slow = series("do_mg_l", [7.0, 6.0, 5.0, 4.5], every=30)
    assert run(k, "water_quality", ["AR-WQ-05"], slow)[0] == set()
    rising = series("level_m", [0.0, 0.1, 0.25], every=10)
    assert run(k, "water_level", ["AR-WL-02"], rising)[0] == {"AR-WL-02"}


def test_duration_needs_the_condition_unbroken_for_its_minutes(k: Knowledge) -> None:
    held = series("cod_mg_l", [45, 46, 50, 48, 47, 44, 45], every=5)  # 30 minutes above 40
    assert run(k, "water_quality", ["AR-WQ-03"], held)[0] == {"AR-WQ-03"}
    broken = series("cod_mg_l", [45, 46, 50, 39, 47, 44, 45], every=5)
    assert run(k, "water_quality", ["AR-WQ-03"], broken)[0] == set()
    short = series("cod_mg_l", [45, 46, 50], every=5)
    assert run(k, "water_quality", ["AR-WQ-03"], short)[0] == set()


def test_combination_needs_both_conditions_even_across_messages(k: Knowledge) -> None:
    rain_only = [Sample(T0, {"rain_mm_h": 45, "level_m": 0.05})]
    assert run(k, "water_level", ["AR-WL-03"], rain_only)[0] == set()
    both = [Sample(T0, {"rain_mm_h": 45, "level_m": 0.2})]
    assert run(k, "water_level", ["AR-WL-03"], both)[0] == {"AR-WL-03"}
    # rain and level in separate messages, five minutes apart
    split = [Sample(T0, {"rain_mm_h": 45}), Sample(T0 + timedelta(minutes=5), {"level_m": 0.2})]
    assert run(k, "water_level", ["AR-WL-03"], split)[0] == {"AR-WL-03"}
    stale = [Sample(T0, {"rain_mm_h": 45}), Sample(T0 + timedelta(minutes=40), {"level_m": 0.2})]
    assert run(k, "water_level", ["AR-WL-03"], stale)[0] == set()


def test_detection_with_confidence_and_count(k: Knowledge) -> None:
    def seen(label: str, conf: float, minute: int) -> Sample:
        return Sample(T0 + timedelta(minutes=minute), label=label, confidence=conf)

    assert run(k, "ai_video", ["AR-AV-01"], [seen("muck_truck", 0.91, 0)])[0] == {"AR-AV-01"}
    assert run(k, "ai_video", ["AR-AV-01"], [seen("muck_truck", 0.6, 0)])[0] == set()
    # street vending needs two detections in a row
    assert run(k, "ai_video", ["AR-AV-02"], [seen("street_vending", 0.9, 0)])[0] == set()
    two = [seen("street_vending", 0.9, 0), seen("street_vending", 0.85, 1)]
    assert run(k, "ai_video", ["AR-AV-02"], two)[0] == {"AR-AV-02"}


def test_hysteresis_a_flapping_reading_does_not_clear(k: Knowledge) -> None:
    """AR-WQ-02 fires above 2.0 and clears only below 1.5 for two readings in a row."""
    opened = {"AR-WQ-02": OpenAlarm("AR-WQ-02", T0, T0)}
    values = [2.4, 1.9, 2.1, 1.8, 1.6]  # flapping around the threshold, never below 1.5
    window: list[Sample] = []
    for i, v in enumerate(values):
        window.append(Sample(T0 + timedelta(minutes=5 * i), {"nh3n_mg_l": v}))
        fired, cleared, normal = run(k, "water_quality", ["AR-WQ-02"], window, opened)
        assert not cleared and fired == ({"AR-WQ-02"} if v > 2.0 else set())
        opened["AR-WQ-02"].normal = normal.get("AR-WQ-02", 0)
    assert opened["AR-WQ-02"].normal == 0
    window.append(Sample(T0 + timedelta(minutes=30), {"nh3n_mg_l": 1.2}))
    _, cleared, normal = run(k, "water_quality", ["AR-WQ-02"], window, opened)
    assert not cleared and normal == {"AR-WQ-02": 1}
    opened["AR-WQ-02"].normal = 1
    window.append(Sample(T0 + timedelta(minutes=35), {"nh3n_mg_l": 1.1}))
    _, cleared, _ = run(k, "water_quality", ["AR-WQ-02"], window, opened)
    assert cleared == {"AR-WQ-02"}


def test_an_open_alarm_that_fires_again_extends_rather_than_opens(k: Knowledge) -> None:
    opened = {"AR-GS-01": OpenAlarm("AR-GS-01", T0, T0)}
    ev = evaluate(
        kind(k, "gas"), [rule(k, "AR-GS-01")], series("ch4_pct_lel", [25, 30]), opened, T0
    )
    assert [f.new for f in ev.fired] == [False]


def test_a_detection_alarm_clears_minutes_after_the_last_detection(k: Knowledge) -> None:
    r = rule(k, "AR-AV-01")  # clears 30 minutes after the last muck truck
    alarm = OpenAlarm("AR-AV-01", T0, T0 + timedelta(minutes=10))
    assert not expired(r, alarm, T0 + timedelta(minutes=30))
    assert expired(r, alarm, T0 + timedelta(minutes=40))
    window = [Sample(T0 + timedelta(minutes=45), label="crowd", confidence=0.5)]
    _, cleared, _ = run(k, "ai_video", ["AR-AV-01"], window, {"AR-AV-01": alarm})
    assert cleared == {"AR-AV-01"}
    # another muck truck two hours later is a new alarm, not the old one extended
    later = [Sample(T0 + timedelta(hours=2), label="muck_truck", confidence=0.9)]
    ev = evaluate(
        kind(k, "ai_video"), [rule(k, "AR-AV-01")], later, {"AR-AV-01": alarm}, later[0].at
    )
    assert ev.cleared == ["AR-AV-01"] and [f.new for f in ev.fired] == [True]
    # within its 30 minutes it extends
    soon = [Sample(T0 + timedelta(minutes=20), label="muck_truck", confidence=0.9)]
    ev = evaluate(kind(k, "ai_video"), [rule(k, "AR-AV-01")], soon, {"AR-AV-01": alarm}, soon[0].at)
    assert ev.cleared == [] and [f.new for f in ev.fired] == [False]


def test_stuck_is_a_flat_line_and_clears_when_it_moves(k: Knowledge) -> None:
    flat = series("do_mg_l", [6.2] * 12)
    fired, _, _ = run(k, "water_quality", ["AR-WQ-91"], flat)
    assert fired == {"AR-WQ-91"}
    assert run(k, "water_quality", ["AR-WQ-91"], series("do_mg_l", [6.2] * 11))[0] == set()
    moved = [*flat, Sample(T0 + timedelta(hours=2), {"do_mg_l": 6.3})]
    opened = {"AR-WQ-91": OpenAlarm("AR-WQ-91", T0, T0)}
    assert run(k, "water_quality", ["AR-WQ-91"], moved, opened)[1] == {"AR-WQ-91"}
    # rain at 0 all day is a dry day, not a stuck gauge
    assert not any(r.type == "stuck" for r in k.sensing.rules_of("rain_gauge"))


def test_silent_after_its_intervals(k: Knowledge) -> None:
    r = rule(k, "AR-WQ-90")  # 3 intervals
    assert not is_silent(r, 300, T0, T0, T0 + timedelta(minutes=14))
    assert is_silent(r, 300, T0, T0, T0 + timedelta(minutes=15))
    assert not is_silent(rule(k, "AR-WQ-01"), 300, T0, T0, T0 + timedelta(days=1))


def test_the_window_keeps_what_the_rules_need_and_no_more(k: Knowledge) -> None:
    rules = k.sensing.rules_of("water_quality")
    window = series("do_mg_l", [6.0] * 100, every=5)
    trim(window, rules)
    # stuck needs 12 readings, the longest rule looks back 60 minutes: 13 readings at 5 min
    assert 13 <= len(window) <= 14
    assert window[-1].at == T0 + timedelta(minutes=5 * 99)


# -- what the event says -----------------------------------------------------------------


def test_an_alarm_event_says_where_what_and_which_rule(k: Knowledge) -> None:
    from domain.alarms import Detection, Reading
    from domain.models import Source
    from tools.alarm_events import alarm_event, silent_why
    from tools.alarms import Firing

    crowd = k.sensing.devices["YZ-CC-03"]  # 洪崖洞观景平台客流监测点: no district in its name
    r = rule(k, "AR-CC-01")
    reading = Reading(device_id=crowd.id, observed_at=T0, metrics={"density_per_m2": 2.4})
    e = alarm_event(
        k,
        crowd,
        [Firing(r, {"density_per_m2": 2.4}, "人员密度2.4人/平方米", True)],
        reading,
        T0,
        [7],
    )
    assert e.source is Source.SENSOR and e.external_id == "alarm-7"
    assert e.address == "渝中区解放碑街道洪崖洞观景平台客流监测点"
    assert e.title == "洪崖洞观景平台客流监测点：人员密度超限"
    assert "于2026-07-01 16:00人员密度2.4人/平方米（规则 AR-CC-01「人员密度超限」）" in e.text
    assert (
        e.attributes["alarm"]["subtype"] == "ES06"
        and e.attributes["alarm"]["owner"] == "public_security"
    )

    cam = k.sensing.devices["YB-AV-01"]
    seen = Reading(
        device_id=cam.id,
        observed_at=T0,
        detection=Detection(label="muck_truck", confidence=0.9, image_ref="oss://cam/9.jpg"),
    )
    v = alarm_event(k, cam, [Firing(rule(k, "AR-AV-01"), {}, "识别到渣土车", True)], seen, T0, [8])
    assert v.source is Source.AI_VIDEO and v.text.startswith("AI视频识别告警：渝北区悦来会展城")
    assert "抓拍图片：oss://cam/9.jpg" in v.text
    assert (
        silent_why(cam, T0, T0 + timedelta(minutes=12))
        == "已12分钟没有上报数据（应每1分钟上报一次）"
    )
