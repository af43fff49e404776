"""Upstream tracing over the store: the readings of every station of the river network around
a water-quality alarm, traced by ``tools.tracing`` and turned into a joint warning by
``tools.jointwarning``. Perception calls it when a water alarm opens an event; the API and the
chat read the event's stored trace, or trace an alarm again from the stored readings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.alarms import Reading
from domain.clock import to_utc
from domain.vocabulary import Urgency
from knowledge import Knowledge
from knowledge.rivers import WATER_METRICS
from store import EventStore
from tools.jointwarning import JointWarning, joint_warning
from tools.signals import BASELINE
from tools.tracing import TraceAnswer, TraceQuery, trace_upstream

#: the most readings of one station read for a trace (a day and a half at 5 minutes)
MAX_READINGS = 2000


def traceable(k: Knowledge, device_id: str) -> bool:
    """Whether a device is a water-quality station on a river network."""
    return device_id in k.rivers.stations


def alarm_metric(k: Knowledge, rule_id: str) -> str:
    """The water metric an alarm rule watches (dissolved oxygen when it watches none)."""
    rule = k.sensing.rule(rule_id)
    metrics = [c.metric for c in rule.conditions] if rule is not None else []
    return next((m for m in metrics if m in WATER_METRICS), "do_mg_l")


def basin_readings(
    store: EventStore, k: Knowledge, until: datetime, horizon_hours: float
) -> list[Reading]:
    """Every station's stored readings from the horizon (and the baseline before it) to
    ``until``."""
    since = to_utc(until) - timedelta(hours=horizon_hours) - BASELINE[0] - timedelta(hours=2)
    out = []
    for device in k.rivers.stations:
        for row in store.alarms.readings_between(device, since, to_utc(until), MAX_READINGS):
            if row["metrics"]:
                out.append(
                    Reading(
                        message_id=row["key"],
                        device_id=device,
                        observed_at=row["observed_at"],
                        metrics=row["metrics"],
                    )
                )
    return out


def trace_alarm(
    store: EventStore,
    k: Knowledge,
    *,
    device_id: str,
    rule_id: str,
    onset: datetime,
    urgency: Urgency | None = None,
    as_of: datetime | None = None,
    horizon_hours: float = 24.0,
) -> tuple[TraceAnswer, JointWarning]:
    """Trace one station's alarm upstream with the readings known at ``as_of`` (default: the
    onset), and the joint warning it calls for."""
    at = as_of or onset
    readings = basin_readings(store, k, at, horizon_hours)
    trace = trace_upstream(
        k,
        TraceQuery(
            station=device_id,
            metric=alarm_metric(k, rule_id),
            onset=onset,
            as_of=at,
            horizon_hours=horizon_hours,
        ),
        readings,
    )
    return trace, joint_warning(k, trace, urgency)


def trace_attributes(trace: TraceAnswer, warning: JointWarning) -> dict[str, Any]:
    """What an alarm-born event keeps of its trace (``attributes.trace`` and
    ``attributes.joint_warning``): JSON, read back by routing, the API and the chat."""
    return {
        "trace": trace.model_dump(mode="json"),
        "joint_warning": warning.model_dump(mode="json"),
    }


def warning_of(k: Knowledge, attributes: dict[str, Any]) -> JointWarning | None:
    """The joint warning stored on an alarm-born event, when it is well formed and names
    departments that exist (else None: routing decides as for any event)."""
    raw = attributes.get("joint_warning")
    if not isinstance(raw, dict):
        return None
    try:
        warning = JointWarning.model_validate(raw)
    except ValueError:
        return None
    codes = [warning.lead.code, *(a.code for a in warning.assisting)]
    if any(c not in k.departments for c in codes):
        return None
    return warning


def trace_of_alarm(
    store: EventStore, k: Knowledge, alarm: dict[str, Any], *, refresh: bool = False
) -> tuple[str, TraceAnswer, JointWarning]:
    """A stored water alarm's trace: the one filed with its event (``filed``), or, with
    ``refresh`` or when none was filed, a new one from the stored readings up to the alarm's
    last reading (``refreshed``)."""
    if not refresh and alarm.get("event_id") is not None:
        attributes = store.get_event(int(alarm["event_id"])).attributes
        if isinstance(attributes.get("trace"), dict) and warning_of(k, attributes) is not None:
            try:
                trace = TraceAnswer.model_validate(attributes["trace"])
            except ValueError:
                pass
            else:
                if trace.station == alarm["device_id"]:
                    return "filed", trace, JointWarning.model_validate(attributes["joint_warning"])
    trace, warning = trace_alarm(
        store,
        k,
        device_id=alarm["device_id"],
        rule_id=alarm["rule_id"],
        onset=alarm["opened_at"],
        urgency=Urgency(alarm["urgency"]) if alarm.get("urgency") else None,
        as_of=alarm.get("cleared_at") or alarm.get("last_at"),
    )
    return "refreshed", trace, warning


def latest_water_alarm(
    store: EventStore,
    k: Knowledge,
    places: list[tuple[list[str] | None, list[str] | None]],
) -> dict[str, Any] | None:
    """The newest open alarm of a water station on a river network in the first of
    ``places`` (districts, streets; None: anywhere) that has one, else the newest alarm that
    has cleared, in the same order."""
    for open_only in (True, False):
        for districts, streets in places:
            offset = 0
            while True:
                rows = store.alarms.list_alarms(
                    open_only=open_only,
                    districts=districts,
                    streets=streets,
                    limit=200,
                    offset=offset,
                )
                for row in rows:
                    if traceable(k, row["device_id"]) and not data_quality(k, row["rule_id"]):
                        return row
                if len(rows) < 200:
                    break
                offset += 200
    return None


def data_quality(k: Knowledge, rule_id: str) -> bool:
    """Whether a rule is about the device itself (silent, stuck), not about the water."""
    rule = k.sensing.rule(rule_id)
    return rule is not None and rule.data_quality
