"""Alarm rules evaluated over one device's recent readings: pure functions, time passed in.

``evaluate`` answers, for the newest reading of a device, which rules fire (opening a new alarm
or extending an open one), which open alarms clear (hysteresis: back past the clear value for
enough readings, or long enough without a detection) and how far each open alarm has counted
towards clearing. ``is_silent`` and ``expired`` are what the periodic sweep asks. Nothing here
reads a clock, the store or the network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from knowledge.sensing import AlarmRule, Condition, DeviceKind

#: in a combination rule, a metric's latest value counts for this long when the newest
#: message does not carry it (rain and water level may arrive in separate messages)
COMBINE_MINUTES = 15
#: the most readings a device's window keeps, whatever the rules ask
MAX_WINDOW = 400


@dataclass(frozen=True)
class Sample:
    """One reading as the rules see it."""

    at: datetime
    metrics: Mapping[str, float] = field(default_factory=dict)
    label: str | None = None
    confidence: float | None = None


@dataclass
class OpenAlarm:
    """An alarm that has not cleared: what the rules need to decide when it does."""

    rule_id: str
    opened_at: datetime
    last_at: datetime  # the last reading on which the rule held
    normal: int = 0  # readings in a row back on the good side since then
    alarm_id: int | None = None
    event_id: int | None = None
    peak: dict[str, float] = field(default_factory=dict)
    readings: int = 1


@dataclass(frozen=True)
class Firing:
    rule: AlarmRule
    values: dict[str, float]  # the values that made it fire (the newest of each metric)
    why: str  # in Chinese: what was seen, for the event text and the draft
    new: bool  # opens an alarm (else extends the open one)


@dataclass
class Evaluation:
    fired: list[Firing] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)  # rule ids whose open alarm clears now
    normal: dict[str, int] = field(default_factory=dict)  # open rule id → new count


def window_needs(rules: Sequence[AlarmRule]) -> tuple[int, float]:
    """How many readings and how many minutes a device's window must keep for its rules."""
    count = max([r.count or 1 for r in rules] + [2])
    minutes = max([r.minutes or 0 for r in rules] + [COMBINE_MINUTES])
    return min(count + 1, MAX_WINDOW), minutes


def trim(window: list[Sample], rules: Sequence[AlarmRule]) -> None:
    """Drop the readings no rule will look at again (keeps the window small), in place."""
    count, minutes = window_needs(rules)
    if not window:
        return
    horizon = window[-1].at - timedelta(minutes=minutes)
    keep = len(window)
    for i, s in enumerate(window):
        if s.at >= horizon:
            keep = len(window) - i
            break
    keep = min(max(keep, count), MAX_WINDOW)
    del window[: max(0, len(window) - keep)]


def worse(op: str, a: float, b: float) -> float:
    """The more alarming of two values for a condition with this operator."""
    return max(a, b) if op in (">", ">=") else min(a, b)


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _op_zh(op: str) -> str:
    return {">": "高于", ">=": "达到", "<": "低于", "<=": "不高于"}[op]


def _series(window: Sequence[Sample], metric: str) -> list[tuple[datetime, float]]:
    return [(s.at, s.metrics[metric]) for s in window if metric in s.metrics]


def _describe(kind: DeviceKind, c: Condition) -> tuple[str, str]:
    m = kind.metric(c.metric)
    return (m.name if m else c.metric), (m.unit if m else "")


def check(
    rule: AlarmRule, kind: DeviceKind, window: Sequence[Sample]
) -> tuple[dict[str, float], str] | None:
    """Whether ``rule`` holds on the newest reading of ``window`` (oldest first): the values
    that make it hold and why, in Chinese; None when it does not."""
    if not window:
        return None
    last = window[-1]
    if rule.type in ("threshold", "consecutive", "rate", "duration"):
        c = rule.when
        assert c is not None
        if c.metric not in last.metrics:
            return None
        name, unit = _describe(kind, c)
        series = _series(window, c.metric)
        value = last.metrics[c.metric]
        if rule.type == "threshold":
            if not c.holds(value):
                return None
            return {
                c.metric: value
            }, f"{name}{_fmt(value)}{unit}，{_op_zh(c.op)}{_fmt(c.value)}{unit}"
        if rule.type == "consecutive":
            n = int(rule.count or 1)
            tail = [v for _, v in series[-n:]]
            if len(tail) < n or not all(c.holds(v) for v in tail):
                return None
            shown = "、".join(_fmt(v) for v in tail)
            return (
                {c.metric: value},
                f"{name}连续{n}次{_op_zh(c.op)}{_fmt(c.value)}{unit}（{shown}）",
            )
        minutes = float(rule.minutes or 0)
        if rule.type == "rate":
            since = last.at - timedelta(minutes=minutes)
            earlier = [(t, v) for t, v in series[:-1] if t >= since]
            if not earlier:
                return None
            t0, v0 = earlier[0]
            change = value - v0
            if not c.holds(change):
                return None
            span = max(1, round((last.at - t0).total_seconds() / 60))
            verb = "上升" if change >= 0 else "下降"
            return (
                {c.metric: value},
                f"{name}{span}分钟内由{_fmt(v0)}{verb}至{_fmt(value)}{unit}"
                f"（变化{_fmt(abs(change))}{unit}）",
            )
        # duration: the condition has held, without a break, for at least `minutes`
        start = None
        for t, v in reversed(series):
            if not c.holds(v):
                break
            start = t
        if start is None or (last.at - start) < timedelta(minutes=minutes):
            return None
        held = round((last.at - start).total_seconds() / 60)
        return (
            {c.metric: value},
            f"{name}持续{held}分钟{_op_zh(c.op)}{_fmt(c.value)}{unit}（当前{_fmt(value)}{unit}）",
        )
    if rule.type == "combination":
        values: dict[str, float] = {}
        parts = []
        since = last.at - timedelta(minutes=COMBINE_MINUTES)
        for c in rule.conditions:
            latest = next(
                (
                    s.metrics[c.metric]
                    for s in reversed(window)
                    if c.metric in s.metrics and s.at >= since
                ),
                None,
            )
            if latest is None or not c.holds(latest):
                return None
            values[c.metric] = latest
            name, unit = _describe(kind, c)
            parts.append(f"{name}{_fmt(latest)}{unit}（{_op_zh(c.op)}{_fmt(c.value)}{unit}）")
        return values, "同时出现：" + "，".join(parts)
    if rule.type == "detection":
        n = int(rule.count or 1)
        recent = window[-n:]
        minimum = float(rule.min_confidence or 0)
        if len(recent) < n or not all(
            s.label == rule.label and (s.confidence or 0) >= minimum for s in recent
        ):
            return None
        label = kind.label(str(rule.label))
        conf = last.confidence or 0
        times = f"连续{n}次" if n > 1 else ""
        return (
            {"confidence": conf},
            f"{times}识别到{label.name if label else rule.label}（置信度{conf:.0%}）",
        )
    if rule.type == "stuck":
        n = int(rule.count or 2)
        watched = rule.metrics or [m.code for m in kind.metrics if not m.flat_ok]
        for metric in watched:
            tail = [v for _, v in _series(window, metric)[-n:]]
            if metric in last.metrics and len(tail) >= n and len(set(tail)) == 1:
                m = kind.metric(metric)
                name = m.name if m else metric
                return (
                    {metric: tail[-1]},
                    f"{name}连续{n}次读数完全相同（{_fmt(tail[-1])}{m.unit if m else ''}），疑似传感器故障",
                )
        return None
    return None  # silent: the sweep's question (is_silent)


def _is_normal(rule: AlarmRule, window: Sequence[Sample], fired: bool) -> bool | None:
    """Whether the newest reading counts towards clearing the rule's open alarm (None: it
    says nothing about it, e.g. it lacks the metric)."""
    last = window[-1]
    clear_value = rule.clear.value if rule.clear else None
    if clear_value is not None and rule.when is not None:
        c = rule.when
        if c.metric not in last.metrics:
            return None
        v = last.metrics[c.metric]
        return v < clear_value if c.op in (">", ">=") else v > clear_value
    if any(c.metric not in last.metrics for c in rule.conditions) and rule.type != "combination":
        return None
    return not fired


def evaluate(
    kind: DeviceKind,
    rules: Sequence[AlarmRule],
    window: Sequence[Sample],
    open_alarms: Mapping[str, OpenAlarm],
    now: datetime,
) -> Evaluation:
    """The rules on the newest reading of ``window`` (oldest first, the newest last), given
    the device's open alarms by rule id. ``now`` is the reading's time."""
    out = Evaluation()
    if not window:
        return out
    for rule in rules:
        if rule.type == "silent":
            continue
        hit = check(rule, kind, window)
        alarm = open_alarms.get(rule.id)
        if alarm is not None and rule.type == "detection" and expired(rule, alarm, now):
            # the last detection is long past: that alarm is over, a new one may open
            out.cleared.append(rule.id)
            alarm = None
        if hit is not None:
            values, why = hit
            out.fired.append(Firing(rule, values, why, new=alarm is None))
            continue
        if alarm is None:
            continue
        if rule.type == "detection":  # clears only by time (above, or the sweep)
            continue
        if rule.type == "stuck":
            out.cleared.append(rule.id)
            continue
        normal = _is_normal(rule, window, fired=False)
        if normal is None:
            continue
        count = alarm.normal + 1 if normal else 0
        needed = (rule.clear.after_normal if rule.clear else None) or 1
        if count >= needed:
            out.cleared.append(rule.id)
        else:
            out.normal[rule.id] = count
    return out


def expired(rule: AlarmRule, alarm: OpenAlarm, now: datetime) -> bool:
    """A detection alarm clears ``clear.after_minutes`` after its last detection."""
    minutes = rule.clear.after_minutes if rule.clear else None
    return minutes is not None and now - alarm.last_at >= timedelta(minutes=minutes)


def is_silent(
    rule: AlarmRule, interval_s: int, last_seen: datetime | None, since: datetime, now: datetime
) -> bool:
    """Whether a device is silent under ``rule``: no reading for ``silent_after`` × its interval,
    counted from its last reading (or from ``since`` when it never sent one: the registry's
    start, so a new device is given its time)."""
    if rule.type != "silent" or rule.silent_after is None:
        return False
    start = last_seen or since
    return now - start >= timedelta(seconds=rule.silent_after * interval_s)
