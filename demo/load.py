"""Put generated demo events into an event store, lifecycle histories included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from demo.generator import DemoEvent, generate_events
from domain.lifecycle import Action
from knowledge import Knowledge
from store import EventStore
from tools.drafting import draft_order


def load_demo(
    store: EventStore,
    k: Knowledge,
    *,
    seed: int,
    now: datetime,
    count: int = 640,
    progress: Callable[[int, int], None] | None = None,
    period_week: str | None = None,
) -> dict[str, int]:
    """Generate and store demo events. Events already stored (same source and external id)
    are left as they are, so loading twice adds nothing. With ``period_week`` (a district
    code), also the last full week's events of that district (``demo.period_week``)."""
    events = generate_events(k, seed=seed, now=now, count=count)
    if period_week is not None:
        from demo.period_week import generate_period_week

        events += generate_period_week(k, seed=seed, now=now, district=period_week)
    ids: list[int] = []
    created = skipped = transitions = 0
    for n, ev in enumerate(events):
        stored, new = store.add_event(
            ev.create, now=ev.create.reported_at + timedelta(minutes=1), actor="demo"
        )
        ids.append(stored.id)
        if not new:
            skipped += 1
            continue
        created += 1
        transitions += _replay(store, k, ev, stored.id, ids)
        if progress:
            progress(n + 1, len(events))
    return {
        "generated": len(events),
        "created": created,
        "skipped": skipped,
        "transitions": transitions,
    }


def _replay(store: EventStore, k: Knowledge, ev: DemoEvent, event_id: int, ids: list[int]) -> int:
    def classify(at: datetime, full: bool) -> None:
        """Where the event is (known at intake); what it is only once it has been triaged."""
        store.set_classification(
            event_id,
            street=ev.street,
            district=ev.district,
            subtype=ev.subtype if full else None,
            category=ev.subtype[:2] if full else None,
            urgency=ev.urgency,
            now=at,
        )

    def order(at: datetime, lead_override: str | None = None) -> None:
        o = draft_order(
            k,
            event_id=event_id,
            subtype=ev.subtype,
            jurisdiction=ev.street,
            urgency=ev.urgency,
            lead_override=lead_override,
            text=ev.create.text,
        )
        store.add_order(o, now=at)

    classify(ev.create.reported_at + timedelta(minutes=1), full=bool(ev.steps))
    dispatch = next((s for s in ev.steps if s.action is Action.DISPATCH), None)
    for s in ev.steps:
        payload = dict(s.payload)
        if s.action is Action.TRIAGE:
            order(s.at, dispatch.lead_override if dispatch else None)
        elif s.action is Action.REDISPATCH:
            order(s.at, s.lead_override)
        elif s.action is Action.MERGE_DUPLICATE and ev.duplicate_of is not None:
            payload["duplicate_of"] = ids[ev.duplicate_of]
        store.transition(
            event_id,
            s.action,
            actor=s.actor,
            at=s.at,
            reason=s.reason,
            reason_code=s.reason_code,
            payload=payload,
        )
    return len(ev.steps)
