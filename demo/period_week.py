"""A week worth reviewing: demo events of the last full ISO week before ``now`` in one district
(綦江区 by default), so a period review (``sanji review period``) has something to say —
repeated complaints at one spot, orders returned twice, late and still-open orders, low
satisfaction — besides the ordinary flow. Its own random stream and its own external ids
(``DEMO-<seed>-W…``): the main demo events stay exactly as they were."""

from __future__ import annotations

from datetime import datetime, timedelta

from demo.generator import RETURN_REASONS, DemoEvent, DemoStep, Generator
from domain.clock import CHINA_TZ
from domain.lifecycle import Action
from knowledge import Knowledge
from knowledge.models import Jurisdiction

PERIOD_DISTRICT = "500110"  # 綦江区
ORDINARY = 24
#: subtypes of the hand-made cases: a repeated complaint, returned twice, late, open too long
REPEATED, BOUNCED, LATE = "EN01", ("TR01", "WU02"), ("CA04", "CO02")


def last_full_week(now: datetime) -> datetime:
    """The local Monday 00:00 that starts the last complete ISO week before ``now``."""
    local = now.astimezone(CHINA_TZ)
    monday = local.date() - timedelta(days=local.weekday() + 7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=CHINA_TZ)


class _WeekGenerator(Generator):
    def __init__(self, k: Knowledge, seed: int, now: datetime, district: str) -> None:
        super().__init__(k, seed, now)
        self.district = k.jurisdiction(district)

    def street(self) -> tuple[Jurisdiction, Jurisdiction]:
        return self.district, self.rng.choice(self.k.sample_streets(self.district.code))


def _handled(
    gen: Generator, ev: DemoEvent, *, wrong: list[str], late: float, satisfaction: int | None
) -> list[DemoStep]:
    """Triage, a dispatch to each ``wrong`` department and its return, then the right
    department, which resolves after ``late`` times its deadline; a ``late`` of 0 leaves the
    order open past its deadline, supervised."""
    k, rng = gen.k, gen.rng
    st = k.subtype(ev.subtype)
    center = f"{k.jurisdiction(ev.street).name}指挥中心"
    t = ev.create.reported_at + timedelta(minutes=rng.randint(5, 40))
    steps = [DemoStep(Action.TRIAGE, t, center)]
    t += timedelta(minutes=20)
    steps.append(DemoStep(Action.DISPATCH, t, center, lead_override=wrong[0] if wrong else None))
    for n, dept in enumerate(wrong):
        code = RETURN_REASONS[(n + rng.randrange(len(RETURN_REASONS))) % len(RETURN_REASONS)]
        t += timedelta(hours=rng.uniform(2, 6))
        steps.append(
            DemoStep(
                Action.RETURN,
                t,
                k.departments[dept].name,
                reason=k.return_reasons[code].description,
                reason_code=code,
            )
        )
        t += timedelta(hours=rng.uniform(0.5, 2))
        again = wrong[n + 1] if n + 1 < len(wrong) else None
        reason = "改派至其他单位" if again else "改派至正确主办单位"
        steps.append(DemoStep(Action.REDISPATCH, t, center, reason=reason, lead_override=again))
    sla = min(st.sla_hours.disposal, k.urgency_levels[ev.urgency].disposal_cap_hours)
    t += timedelta(hours=1)
    steps += [DemoStep(Action.ACCEPT, t, "承办单位"), DemoStep(Action.START, t, "承办单位")]
    if late <= 0:
        steps.append(
            DemoStep(
                Action.SUPERVISE,
                t + timedelta(hours=sla * 1.2),
                center,
                reason="已超时限，督促办理",
            )
        )
        return [s for s in steps if s.at <= gen.now]
    t += timedelta(hours=sla * late)
    steps.append(DemoStep(Action.RESOLVE, t, "承办单位", payload={"result": "已现场处置"}))
    if satisfaction is not None:
        t += timedelta(hours=rng.uniform(4, 24))
        steps.append(DemoStep(Action.VERIFY, t, "回访员", payload={"satisfaction": satisfaction}))
    return [s for s in steps if s.at <= gen.now]


def _wrong_leads(gen: Generator, ev: DemoEvent, n: int) -> list[str]:
    st = gen.k.subtype(ev.subtype)
    found: list[str] = []
    for _ in range(8 if n else 0):
        lead = gen.wrong_lead(ev, st)
        if lead and lead not in found:
            found.append(lead)
        if len(found) == n:
            break
    return found


def generate_period_week(
    k: Knowledge, *, seed: int, now: datetime, district: str = PERIOD_DISTRICT
) -> list[DemoEvent]:
    """About 30 events of the last full week before ``now`` in ``district``, oldest first."""
    gen = _WeekGenerator(k, seed * 7919 + 17, now, district)
    start = last_full_week(now)

    def at(day: float) -> datetime:
        return start + timedelta(days=day)

    events: list[DemoEvent] = []
    for i in range(ORDINARY):
        events.append(gen.event(i, at(gen.rng.uniform(0, 6.9))))
    spot = gen.event(ORDINARY, at(0.4), subtype=REPEATED)
    events.append(spot)
    for n, day in enumerate((1.8, 3.5, 5.2)):
        again = gen.event(ORDINARY + 1 + n, at(day), subtype=REPEATED, near=spot)
        events.append(again)
    special = [
        (BOUNCED[0], 1.2, 2, 1.3, 2),
        (BOUNCED[1], 2.6, 2, 0.6, 4),
        (LATE[0], 3.1, 0, 1.6, 1),
        (LATE[1], 0.9, 0, 0.0, None),
    ]
    for n, (subtype, day, returns, late, score) in enumerate(special):
        ev = gen.event(ORDINARY + 4 + n, at(day), subtype=subtype)
        ev.steps = _handled(
            gen, ev, wrong=_wrong_leads(gen, ev, returns), late=late, satisfaction=score
        )
        events.append(ev)
    for n, ev in enumerate(events):
        ev.create = ev.create.model_copy(update={"external_id": f"DEMO-{seed}-W{n:04d}"})
    return sorted(events, key=lambda e: e.create.reported_at)
