"""Perception: sensor and AI-video readings become alarms, and alarms become events.

``Perception.ingest`` takes a batch in one transaction: readings already stored are
duplicates, readings of unknown devices or metrics are kept in a rejected log with a Chinese
reason, the rest are stored and run through their device kind's rules (in memory, one window
per device); alarms open, extend or clear, and a new alarm either joins the event of its
incident (the same device, or a nearby device's alarm of the same kind of incident) or opens
an event, which joins a citizen's open report of the same thing as a duplicate or is triaged
by the Dispatcher after the batch is committed. ``sweep`` finds silent devices and detection
alarms that have lapsed. Windows and open alarms are rebuilt from the store on start."""

from __future__ import annotations

import logging
import math
import threading
from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.dispatch import Dispatcher
from agents.tracing import trace_alarm, trace_attributes, traceable
from domain.alarms import IngestResult, Outcome, Reading
from domain.clock import to_utc
from domain.lifecycle import Action
from domain.models import EventCreate
from knowledge import Knowledge
from knowledge.sensing import AlarmRule, Device
from store import EventStore, StoreError
from tools.alarm_events import alarm_event, silent_why
from tools.alarms import Firing, OpenAlarm, Sample, evaluate, expired, is_silent, trim, worse
from tools.alarms import window_needs as _needs
from tools.duplicates import ReportQuery, open_reports_nearby

log = logging.getLogger(__name__)

#: a reading may be this far ahead of the receiving clock (device clocks drift)
FUTURE_SLACK = timedelta(hours=1)
#: who files perception's events and runs their triage
ACTOR = "物联感知"
KM_PER_DEG = 111.0


def _km(a: Device | Any, lat: float, lon: float) -> float:
    dx = (lon - a.lon) * KM_PER_DEG * math.cos(math.radians((lat + a.lat) / 2))
    return math.hypot(dx, (lat - a.lat) * KM_PER_DEG)


@dataclass
class _Batch:
    """What one batch changed, written at its end and applied to memory after commit."""

    alarm_updates: dict[int, OpenAlarm] = field(default_factory=dict)
    cleared: dict[int, datetime] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    to_triage: list[int] = field(default_factory=list)


class Perception:
    """The one ``AlarmSink``: idempotent by device and reading key (a key is unique within
    its device: two devices that number their messages alike lose nothing), durable when
    ``ingest`` returns."""

    def __init__(
        self,
        store: EventStore,
        knowledge: Knowledge,
        dispatcher: Dispatcher | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        draft: bool = True,
    ) -> None:
        self.store = store
        self.k = knowledge
        self.s = knowledge.sensing
        self.dispatcher = dispatcher
        self.clock = clock or (lambda: datetime.now(UTC))
        #: triage new events after each batch (off: events wait in 受理 for an officer)
        self.draft = draft and dispatcher is not None
        self._lock = threading.RLock()
        self._windows: dict[str, list[Sample]] = {}
        self._open: dict[str, dict[str, OpenAlarm]] = {}
        self._last_seen: dict[str, datetime] = {}
        #: each device's latest value of every metric (and label), as device_status keeps it
        self._last_values: dict[str, dict[str, Any]] = {}
        self._started = self.clock()
        self._rebuild()

    # -- start-up ---------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Windows, open alarms and last readings from the store: a restarted process goes
        on where the last one stopped."""
        alarms = self.store.alarms
        statuses = alarms.statuses()
        for device in self.s.devices.values():
            row = statuses.get(device.id)
            if row is None or row["last_observed"] is None:
                continue
            self._last_seen[device.id] = row["last_observed"]
            self._last_values[device.id] = dict(row["last_values"])
            count, minutes = _needs(self.s.rules_for(device))
            since = row["last_observed"] - timedelta(minutes=minutes)
            window = [
                _sample(r["observed_at"], r["metrics"], r["detection"])
                for r in alarms.recent_readings(device.id, since=since, limit=count * 4 + 50)
            ]
            trim(window, self.s.rules_for(device))
            self._windows[device.id] = window
            # a device that never reported is counted silent from the first batch stored
            self._started = min(self._started, row["updated_at"])
        for a in alarms.open_alarms():
            self._open.setdefault(a["device_id"], {})[a["rule_id"]] = OpenAlarm(
                rule_id=a["rule_id"],
                opened_at=a["opened_at"],
                last_at=a["last_at"],
                normal=int(a["normal"]),
                alarm_id=int(a["id"]),
                event_id=a["event_id"],
                peak=dict(a["peak"]),
                readings=int(a["readings"]),
            )

    # -- ingest -----------------------------------------------------------------------------

    def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
        """Store and evaluate a batch in one transaction; then triage the events it opened.

        A store that is down or busy raises (nothing was written: the sender keeps the batch
        and tries again). Any other failure is a reading the pipeline cannot handle: the
        batch is taken again reading by reading, and a reading that still fails is kept in
        the rejected log with the reason, so one bad message never blocks a stream."""
        try:
            return self._ingest(batch)
        except StoreError:
            raise
        except Exception as exc:
            if len(batch) == 1:
                return [self._quarantine(batch[0], exc)]
            log.exception("a batch of %d readings failed; taking it one by one", len(batch))
            return [result for r in batch for result in self.ingest([r])]

    def _quarantine(self, r: Reading, exc: Exception) -> IngestResult:
        log.error("reading %s of %s could not be processed", r.key, r.device_id, exc_info=exc)
        reason = f"处理该读数时出错（{type(exc).__name__}），原文已存档待查"
        with self.store.db.transaction():
            self.store.alarms.reject(
                [
                    {
                        "key": r.key,
                        "device_id": r.device_id,
                        "reason": reason,
                        "body": r.model_dump(mode="json"),
                    }
                ],
                now=self.clock(),
            )
        return IngestResult(key=r.key, outcome=Outcome.REJECTED, reason=reason)

    def _ingest(self, batch: Sequence[Reading]) -> list[IngestResult]:
        now = self.clock()
        results: list[IngestResult | None] = [None] * len(batch)
        with self._lock:
            keys = [r.key for r in batch]
            first: set[tuple[str, str]] = set()
            valid: list[int] = []
            rejected: list[dict[str, Any]] = []
            for i, r in enumerate(batch):
                if (r.device_id, keys[i]) in first:
                    results[i] = IngestResult(key=keys[i], outcome=Outcome.DUPLICATE)
                    continue
                first.add((r.device_id, keys[i]))
                reason = self._refusal(r, now)
                if reason:
                    results[i] = IngestResult(key=keys[i], outcome=Outcome.REJECTED, reason=reason)
                    rejected.append(
                        {
                            "key": keys[i],
                            "device_id": r.device_id,
                            "reason": reason,
                            "body": r.model_dump(mode="json"),
                        }
                    )
                else:
                    valid.append(i)
            valid.sort(key=lambda i: to_utc(batch[i].observed_at))
            touched = {batch[i].device_id for i in valid}
            saved = self._snapshot(touched)
            work = _Batch()
            try:
                with self.store.db.transaction():
                    self.store.alarms.reject(rejected, now=now)
                    stored = self.store.alarms.add_readings(
                        [_row(keys[i], batch[i]) for i in valid], now=now
                    )
                    for i in valid:
                        if (batch[i].device_id, keys[i]) not in stored:
                            results[i] = IngestResult(key=keys[i], outcome=Outcome.DUPLICATE)
                            continue
                        results[i] = self._apply(keys[i], batch[i], now, work)
                    self._write(work, now)
            except BaseException:
                self._restore(saved)
                raise
        self._triage(work.to_triage)
        return [r for r in results if r is not None]

    def _refusal(self, r: Reading, now: datetime) -> str | None:
        """Why a reading cannot be taken, in Chinese (None: it can)."""
        device = self.s.devices.get(r.device_id)
        if device is None:
            return f"未登记的设备 {r.device_id}：请先在设备登记表（knowledge/data/devices）中登记"
        kind = self.s.kinds[device.kind]
        unknown = [m for m in r.metrics if kind.metric(m) is None]
        if unknown:
            names = "、".join(f"{m.code}（{m.name}）" for m in kind.metrics) or "无"
            return (
                f"设备 {device.id}（{kind.name}）没有指标 {'、'.join(unknown)}；可用指标：{names}"
            )
        bad = [m for m, v in r.metrics.items() if not math.isfinite(v)]
        if bad:
            return f"指标 {'、'.join(bad)} 的值不是有效数字"
        if r.detection is not None:
            if not kind.labels:
                return f"设备 {device.id}（{kind.name}）不上报识别结果（detection）"
            if kind.label(r.detection.label) is None:
                names = "、".join(f"{x.code}（{x.name}）" for x in kind.labels)
                return f"识别标签 {r.detection.label} 不是{kind.name}的标签；可用标签：{names}"
        if to_utc(r.observed_at) > now + FUTURE_SLACK:
            return "观测时间（observed_at）晚于当前时间一小时以上，请检查设备时钟"
        return None

    def _apply(self, key: str, r: Reading, now: datetime, work: _Batch) -> IngestResult:
        device = self.s.devices[r.device_id]
        kind = self.s.kinds[device.kind]
        rules = self.s.rules_for(device)
        sample = _sample(to_utc(r.observed_at), r.metrics, r.detection)
        window = self._windows.setdefault(device.id, [])
        status = work.status.setdefault(
            device.id,
            {
                "device_id": device.id,
                "readings": 0,
                "last_seen": now,
                "last_values": dict(self._last_values.get(device.id, {})),
            },
        )
        status["readings"] += 1
        result = IngestResult(key=key, outcome=Outcome.NEW)
        if window and sample.at < window[-1].at:  # late: kept for the chart, not evaluated
            insort(window, sample, key=lambda s: s.at)
            trim(window, rules)
            status.setdefault("last_observed", window[-1].at)
            return result
        window.append(sample)
        trim(window, rules)
        self._last_seen[device.id] = sample.at
        status["last_observed"] = sample.at
        status["last_values"] = self._last_values[device.id] = {
            **status["last_values"],
            **r.metrics,
            **(
                {"label": r.detection.label, "confidence": r.detection.confidence}
                if r.detection
                else {}
            ),
        }
        opened = self._open.setdefault(device.id, {})
        by_id = {x.id: x for x in rules}
        # data flows again: a silent alarm of this device clears
        for rule_id in [x for x in opened if by_id.get(x) and by_id[x].type == "silent"]:
            self._clear(opened.pop(rule_id), sample.at, work)
        ev = evaluate(kind, rules, window, opened, sample.at)
        for rule_id in ev.cleared:
            self._clear(opened.pop(rule_id), sample.at, work)
        for rule_id, n in ev.normal.items():
            opened[rule_id].normal = n
            self._touch(opened[rule_id], work)
        fresh: list[Firing] = []
        for f in ev.fired:
            if f.new:
                fresh.append(f)
                continue
            a = opened[f.rule.id]
            a.last_at, a.normal, a.readings = sample.at, 0, a.readings + 1
            a.peak = _peak(f.rule, a.peak, f.values)
            self._touch(a, work)
            result.alarm_ids.append(int(a.alarm_id or 0))
            result.rule_ids.append(f.rule.id)
            if a.event_id is not None and a.event_id not in result.event_ids:
                result.event_ids.append(a.event_id)
        if fresh:
            self._open_alarms(device, key, r, sample, fresh, now, result, work)
        return result

    def _open_alarms(
        self,
        device: Device,
        key: str,
        r: Reading,
        sample: Sample,
        fresh: list[Firing],
        now: datetime,
        result: IngestResult,
        work: _Batch,
    ) -> None:
        """New alarms of one reading: stored, then folded into their incident's event or
        given one (the reading's firings of one subtype share it)."""
        opened = self._open[device.id]
        by_subtype: dict[str, list[tuple[Firing, OpenAlarm]]] = {}
        for f in fresh:
            known = self.store.alarms.open_alarm_of(device.id, f.rule.id)
            if known is not None and int(known["id"]) not in work.cleared:
                # opened by another process on the same store: extend it
                a = OpenAlarm(
                    rule_id=f.rule.id,
                    opened_at=known["opened_at"],
                    last_at=sample.at,
                    alarm_id=int(known["id"]),
                    event_id=known["event_id"],
                    peak=_peak(f.rule, dict(known["peak"]), f.values),
                    readings=int(known["readings"]) + 1,
                )
                opened[f.rule.id] = a
                self._touch(a, work)
                result.alarm_ids.append(int(known["id"]))
                result.rule_ids.append(f.rule.id)
                if a.event_id is not None and a.event_id not in result.event_ids:
                    result.event_ids.append(a.event_id)
                continue
            a = OpenAlarm(
                rule_id=f.rule.id,
                opened_at=sample.at,
                last_at=sample.at,
                peak=_peak(f.rule, {}, f.values),
            )
            a.alarm_id = self.store.alarms.open_alarm(
                {
                    "device_id": device.id,
                    "rule_id": f.rule.id,
                    "subtype": f.rule.subtype,
                    "urgency": f.rule.urgency.value,
                    "street": device.street,
                    "district": device.district,
                    "lat": device.lat,
                    "lon": device.lon,
                    "opened_at": a.opened_at,
                    "last_at": a.last_at,
                    "readings": 1,
                    "normal": 0,
                    "peak": a.peak,
                    "why": f.why,
                    "first_key": key,
                    "event_id": None,
                }
            )
            opened[f.rule.id] = a
            by_subtype.setdefault(f.rule.subtype, []).append((f, a))
            result.alarm_ids.append(a.alarm_id)
            result.rule_ids.append(f.rule.id)
        for subtype, group in by_subtype.items():
            event_id = self._incident(device, subtype, group[0][0].rule, sample.at)
            if event_id is None:
                event_id = self._new_event(device, r, sample, group, now, work)
            for _, a in group:
                a.event_id = event_id
                self._touch(a, work)
            if event_id not in result.event_ids:
                result.event_ids.append(event_id)

    def _incident(self, device: Device, subtype: str, rule: AlarmRule, at: datetime) -> int | None:
        """The open event of the incident this alarm belongs to: an open alarm of the same
        device, or of a device within the fold radius opened within the fold window, of the
        same subtype (data-quality alarms fold only with the same device's)."""
        fold = self.s.fold
        window = timedelta(minutes=fold.window_minutes)
        candidates: list[tuple[float, int]] = []
        for other_id, alarms in self._open.items():
            other = self.s.devices.get(other_id)
            if other is None:
                continue
            same = other_id == device.id
            if not same and (
                rule.data_quality or _km(other, device.lat, device.lon) > fold.radius_km
            ):
                continue
            for a in alarms.values():
                other_rule = self.s.rule(a.rule_id)
                if a.event_id is None or other_rule is None or other_rule.subtype != subtype:
                    continue
                if not same and abs(at - a.opened_at) > window:
                    continue
                candidates.append((0.0 if same else _km(other, device.lat, device.lon), a.event_id))
        for _, event_id in sorted(candidates):
            if self._still_open(event_id):
                return event_id
        return None

    def _still_open(self, event_id: int) -> bool:
        """Whether an incident's event still takes alarms: it is open, or it was merged into
        a citizen's report that is (the alarms keep joining as that report's evidence)."""
        done = ("resolved", "verified", "closed")
        row = self.store.db.fetchone(
            "SELECT status, duplicate_of FROM events WHERE id = ?", (event_id,)
        )
        if row is None:
            return False
        if row["status"] not in done:
            return True
        if row["duplicate_of"] is None:
            return False
        target = self.store.db.fetchone(
            "SELECT status FROM events WHERE id = ?", (row["duplicate_of"],)
        )
        return target is not None and target["status"] not in done

    def _new_event(
        self,
        device: Device,
        r: Reading,
        sample: Sample,
        group: list[tuple[Firing, OpenAlarm]],
        now: datetime,
        work: _Batch,
    ) -> int:
        """The event of a new incident, filed at ``now`` (the reading's receipt), reported
        at the reading's time."""
        fired = [f for f, _ in group]
        lead = max((f.rule for f in fired), key=lambda x: x.urgency.rank)
        alarm_ids = [int(a.alarm_id or 0) for _, a in group]
        event = alarm_event(self.k, device, fired, r, sample.at, alarm_ids)
        traced = self._trace(device, lead, sample.at) if not lead.data_quality else {}
        if traced:  # a water station's alarm, traced upstream with its joint warning
            event = EventCreate.model_validate(
                {
                    **event.model_dump(),
                    "text": event.text + f"上游溯源：{traced['trace']['summary']}",
                    "attributes": {**event.attributes, **traced},
                }
            )
        stored, _ = self.store.add_event(event, now=now, actor=ACTOR)
        self.store.set_classification(
            stored.id,
            street=device.street,
            district=device.district,
            subtype=lead.subtype,
            category=lead.subtype[:2],
            urgency=lead.urgency,
            now=now,
        )
        report = None
        if not lead.data_quality:
            fold = self.s.fold
            reports = open_reports_nearby(
                self.store,
                ReportQuery(
                    subtype=lead.subtype,
                    lat=device.lat,
                    lon=device.lon,
                    at=sample.at,
                    radius_km=fold.report_radius_km,
                    window_hours=fold.report_window_hours,
                ),
            )
            report = reports[0] if reports else None
        if report is not None:
            self.store.transition(
                stored.id,
                Action.MERGE_DUPLICATE,
                actor=ACTOR,
                at=now,
                reason=f"与群众上报事件 {report.event.id} 为同一事项（{'，'.join(report.reasons)}），"
                "感知读数作为佐证并入",
                payload={
                    "duplicate_of": report.event.id,
                    "evidence": {
                        "device": device.id,
                        "rules": [f.rule.id for f, _ in group],
                        "readings": {**r.metrics},
                        "why": event.attributes["alarm"]["rules"],
                    },
                },
            )
        else:
            work.to_triage.append(stored.id)
        return stored.id

    def _trace(self, device: Device, rule: AlarmRule, at: datetime) -> dict[str, Any]:
        """A water station's alarm traced upstream, with its joint warning (empty for other
        devices, or when tracing fails: the event is filed all the same)."""
        if not traceable(self.k, device.id):
            return {}
        try:
            trace, warning = trace_alarm(
                self.store,
                self.k,
                device_id=device.id,
                rule_id=rule.id,
                onset=at,
                urgency=rule.urgency,
            )
        except Exception:
            log.exception("upstream trace of %s at %s failed", device.id, at)
            return {}
        return trace_attributes(trace, warning)

    # -- sweep ------------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> list[IngestResult]:
        """Silent devices open a data-quality alarm and event for their owner department (once
        per outage: it stays open until data flows again); detection alarms whose time has
        passed clear. Returns one result per alarm opened (key ``sweep:<device>``)."""
        now = to_utc(now or self.clock())
        out: list[IngestResult] = []
        work = _Batch()
        with self._lock:
            touched = set(self.s.devices)
            saved = self._snapshot(touched)
            try:
                with self.store.db.transaction():
                    for device in self.s.devices.values():
                        opened = self._open.setdefault(device.id, {})
                        for rule in self.s.rules_for(device):
                            a = opened.get(rule.id)
                            if rule.type == "detection" and a is not None and expired(rule, a, now):
                                self._clear(opened.pop(rule.id), now, work)
                            if rule.type != "silent" or a is not None:
                                continue
                            last = self._last_seen.get(device.id)
                            # a device that never reported is listed as silent (tools.devices)
                            # but is not an outage: it opens no event
                            if last is None or not is_silent(
                                rule, device.interval_s, last, last, now
                            ):
                                continue
                            out.append(self._silent(device, rule, last, now, work))
                    self._write(work, now)
            except BaseException:
                self._restore(saved)
                raise
        self._triage(work.to_triage)
        return out

    def _silent(
        self, device: Device, rule: AlarmRule, last: datetime | None, now: datetime, work: _Batch
    ) -> IngestResult:
        why = silent_why(device, last or self._started, now)
        firing = Firing(rule, {}, why, new=True)
        result = IngestResult(key=f"sweep:{device.id}", outcome=Outcome.NEW)
        sample = Sample(at=now)
        heartbeat = Reading(
            device_id=device.id, observed_at=now, attributes={"heartbeat": True, "sweep": True}
        )
        self._open_alarms(device, result.key, heartbeat, sample, [firing], now, result, work)
        return result

    # -- bookkeeping ------------------------------------------------------------------------

    def _touch(self, a: OpenAlarm, work: _Batch) -> None:
        if a.alarm_id is not None:
            work.alarm_updates[a.alarm_id] = a

    def _clear(self, a: OpenAlarm, at: datetime, work: _Batch) -> None:
        if a.alarm_id is not None:
            work.alarm_updates[a.alarm_id] = a
            work.cleared[a.alarm_id] = at

    def _write(self, work: _Batch, now: datetime) -> None:
        self.store.alarms.update_alarms(
            [
                {
                    "id": alarm_id,
                    "last_at": a.last_at,
                    "readings": a.readings,
                    "normal": a.normal,
                    "peak": a.peak,
                    "cleared_at": work.cleared.get(alarm_id),
                    "event_id": a.event_id,
                }
                for alarm_id, a in work.alarm_updates.items()
            ]
        )
        self.store.alarms.save_status(
            [s for s in work.status.values() if s.get("last_observed")], now=now
        )

    def _snapshot(self, devices: set[str]) -> dict[str, Any]:
        return {
            "windows": {d: list(self._windows.get(d, [])) for d in devices},
            "open": {
                d: {r: replace(a, peak=dict(a.peak)) for r, a in self._open.get(d, {}).items()}
                for d in devices
            },
            "last": {d: self._last_seen.get(d) for d in devices},
            "values": {d: self._last_values.get(d) for d in devices},
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        for d, w in saved["windows"].items():
            self._windows[d] = w
        for d, o in saved["open"].items():
            self._open[d] = o
        for d, t in saved["last"].items():
            if t is None:
                self._last_seen.pop(d, None)
            else:
                self._last_seen[d] = t
        for d, v in saved["values"].items():
            if v is None:
                self._last_values.pop(d, None)
            else:
                self._last_values[d] = v

    def _triage(self, event_ids: list[int]) -> None:
        if not self.draft or self.dispatcher is None:
            return
        for event_id in event_ids:
            try:
                self.dispatcher.triage(event_id, by=ACTOR, engine="offline")
            except Exception:  # the event is stored; an officer can triage it
                log.exception("triage of alarm event %s failed", event_id)

    # -- reading ----------------------------------------------------------------------------

    def open_alarms(self) -> dict[str, dict[str, OpenAlarm]]:
        """The open alarms by device and rule (a copy)."""
        with self._lock:
            return {d: dict(a) for d, a in self._open.items() if a}


def _sample(at: datetime, metrics: dict[str, float], detection: Any) -> Sample:
    if detection is not None and not isinstance(detection, dict):
        detection = detection.model_dump()
    return Sample(
        at=to_utc(at),
        metrics=dict(metrics),
        label=detection["label"] if detection else None,
        confidence=detection["confidence"] if detection else None,
    )


def _row(key: str, r: Reading) -> dict[str, Any]:
    return {
        "key": key,
        "device_id": r.device_id,
        "observed_at": r.observed_at,
        "metrics": r.metrics,
        "detection": r.detection.model_dump() if r.detection else None,
        "lat": r.lat,
        "lon": r.lon,
        "attributes": r.attributes,
    }


def _peak(rule: AlarmRule, peak: dict[str, float], values: dict[str, float]) -> dict[str, float]:
    ops = {c.metric: c.op for c in rule.conditions}
    out = dict(peak)
    for metric, v in values.items():
        op = ops.get(metric, ">")
        out[metric] = worse(op, out[metric], v) if metric in out else v
    return out


__all__ = ["Perception"]
