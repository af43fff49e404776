"""Generate realistic demo events for the sample jurisdictions, with lifecycle histories.

Deterministic: the same seed and the same ``now`` give the same events. ``now`` is an
argument (the demo loader passes the current time so deadlines look current)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from demo import phrases as P
from domain.lifecycle import Action
from domain.models import EventCreate, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from knowledge.models import Jurisdiction, Subtype
from tools.routing import urgency_for

#: subtypes citizens report most often get more events
COMMON = {
    "CA01": 4,
    "CA04": 4,
    "EN01": 5,
    "TR01": 4,
    "CO02": 4,
    "MK04": 3,
    "LB02": 3,
    "EN04": 3,
    "TR02": 3,
    "CA07": 3,
    "WU02": 3,
    "CS01": 3,
    "LB01": 2,
    "EN02": 3,
    "CV03": 3,
}
DISTRICT_WEIGHT = {
    "500103": 4,
    "500105": 4,
    "500106": 2,
    "500107": 2,
    "500108": 2,
    "500110": 1,
    "500112": 2,
    "500155": 1,
}
CONSULTATION = {"CS01", "CS02", "CS03"}
CITIZEN = {Source.HOTLINE, Source.WEB, Source.GRID, Source.REFERRAL}
RETURN_REASONS = ["not_our_duty", "not_our_area", "ownership_unclear", "overlapping_duties"]


@dataclass
class DemoStep:
    action: Action
    at: datetime
    actor: str
    reason: str | None = None
    reason_code: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    lead_override: str | None = None  # for DISPATCH: a misrouted first order


@dataclass
class DemoEvent:
    create: EventCreate
    subtype: str
    street: str
    district: str
    urgency: Urgency
    steps: list[DemoStep]
    duplicate_of: int | None = None  # index into the generated list
    example: str = ""  # the phrasing the report was built from (a second report reuses it)


def _pick_weighted(rng: random.Random, items: dict[str, int]) -> str:
    keys = list(items)
    return rng.choices(keys, weights=[items[k] for k in keys])[0]


def _name(rng: random.Random) -> str:
    return rng.choice(P.SURNAMES) + rng.choice(P.GIVEN)


def _phone(rng: random.Random) -> str:
    return (
        rng.choice(["138", "139", "135", "150", "151", "177", "186", "189"])
        + f"{rng.randrange(10**8):08d}"
    )


class Generator:
    def __init__(self, k: Knowledge, seed: int, now: datetime) -> None:
        self.k = k
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.subtypes = {code: COMMON.get(code, 1) for code in k.subtypes}

    # -- places and words ------------------------------------------------------------

    def street(self) -> tuple[Jurisdiction, Jurisdiction]:
        district = self.k.jurisdiction(_pick_weighted(self.rng, DISTRICT_WEIGHT))
        street = self.rng.choice(self.k.sample_streets(district.code))
        return district, street

    def place(self, district: Jurisdiction, street: Jurisdiction) -> tuple[str, str]:
        """A spoken place (for the text) and a formal address."""
        rng = self.rng
        if street.landmarks and rng.random() < 0.35:
            spot = rng.choice(street.landmarks) + rng.choice(["附近", "旁边", "门口", "对面", ""])
        elif street.roads:
            spot = f"{rng.choice(street.roads)}{rng.randint(1, 300)}号" + rng.choice(
                ["附近", "", "旁边", "门口"]
            )
        else:
            spot = street.name + "场镇"
        return spot, f"重庆市{district.name}{street.name}{spot}"

    def coords(self, street: Jurisdiction) -> tuple[float, float]:
        assert street.lat is not None and street.lon is not None  # a demo street
        return (
            round(street.lat + self.rng.gauss(0, 0.003), 6),
            round(street.lon + self.rng.gauss(0, 0.003), 6),
        )

    def typo(self, text: str) -> str:
        if self.rng.random() < 0.08:
            for right, wrong in P.TYPOS.items():
                if right in text:
                    return text.replace(right, wrong, 1)
        return text

    def compose(
        self,
        st: Subtype,
        source: Source,
        spot: str,
        district: Jurisdiction,
        street: Jurisdiction,
        at: datetime,
        example: str,
    ) -> tuple[str, str | None]:
        """Return (text, title) as the channel would deliver it."""
        rng = self.rng
        if source is Source.AI_VIDEO:
            label = rng.choice(P.VIDEO_LABELS[st.code])
            cam = f"{street.code[-6:]}-{rng.randint(1, 60):03d}"
            conf = rng.uniform(0.82, 0.99)
            return (
                f"【AI视频告警】摄像头{cam}（{district.name}{street.name}{spot}）识别到「{label}」，"
                f"置信度{conf:.2f}，抓拍时间{at:%Y-%m-%d %H:%M}，已推送至{street.name}基层治理指挥中心。",
                None,
            )
        if source is Source.SENSOR:
            reading = rng.choice(P.SENSOR_READINGS[st.code]).format(
                v=rng.uniform(1, 80), n=rng.randint(3, 8)
            )
            device = P.SENSOR_DEVICES[st.code]
            return (
                f"【物联感知告警】{device}（编号{street.code[-4:]}{rng.randint(100, 999)}，"
                f"{district.name}{street.name}{spot}）：{reading}。",
                None,
            )
        when, impact, ask = rng.choice(P.WHEN), rng.choice(P.IMPACT), rng.choice(P.ASK)
        if source is Source.GRID:
            grid = rng.randint(1, 12)
            text = (
                f"{rng.choice(P.GRID_OPEN)}{street.name}第{grid}网格网格员{_name(rng)}巡查发现："
                f"{spot}{example}。{rng.choice(P.GRID_DONE)}"
            )
            return text, None
        if source is Source.WEB:
            title = f"{district.name}{spot}" + example.split("，")[0][:20]
            body = f"{when}，{district.name}{street.name}{spot}{example}，{impact}。{ask}"
            if rng.random() < 0.3:
                body = f"尊敬的领导：您好！{body}此前已向社区反映，至今未见改善。"
            return self.typo(body), title
        opener = rng.choice(P.HOTLINE_OPEN)
        text = f"{opener}{when}，{district.name}{street.name}{spot}{example}，{impact}。{ask}"
        if source is Source.REFERRAL:
            text = f"【部门转办】{text}"
        return self.typo(text), None

    def source_for(self, st: Subtype) -> Source:
        r = self.rng.random()
        if st.code in P.SENSOR_READINGS and r < 0.5:
            return Source.SENSOR
        if st.code in P.VIDEO_LABELS and r < 0.45:
            return Source.AI_VIDEO
        return self.rng.choices(
            [Source.HOTLINE, Source.WEB, Source.GRID, Source.REFERRAL], weights=[45, 20, 30, 5]
        )[0]

    # -- events --------------------------------------------------------------------------

    def event(
        self,
        index: int,
        reported_at: datetime,
        subtype: str | None = None,
        near: DemoEvent | None = None,
    ) -> DemoEvent:
        rng, k = self.rng, self.k
        st = k.subtype(subtype or _pick_weighted(rng, self.subtypes))
        if near is not None:
            district, street = k.jurisdiction(near.district), k.jurisdiction(near.street)
        else:
            district, street = self.street()
        source = self.source_for(st) if near is None else Source.HOTLINE
        spot, address = self.place(district, street)
        if near is not None and near.create.address:
            address = near.create.address
            spot = address.removeprefix(f"重庆市{district.name}{street.name}")
        example = near.example if near is not None else rng.choice(st.examples)
        text, title = self.compose(st, source, spot, district, street, reported_at, example)
        if near is not None and near.create.lat is not None and near.create.lon is not None:
            lat = round(near.create.lat + rng.gauss(0, 0.0003), 6)  # the same spot, ~30 m apart
            lon = round(near.create.lon + rng.gauss(0, 0.0003), 6)
        else:
            lat, lon = self.coords(street)
        reporter = source in (Source.HOTLINE, Source.WEB, Source.REFERRAL)
        external = f"DEMO-{self.seed}-{index:05d}"
        attributes: dict[str, Any] = {"demo": True}
        if source is Source.GRID:
            attributes["photos"] = rng.randint(1, 3)
        create = EventCreate(
            source=source,
            external_id=external,
            title=title,
            text=text,
            reported_at=reported_at,
            address=address,
            lat=lat,
            lon=lon,
            reporter_name=_name(rng) if reporter and rng.random() < 0.8 else None,
            reporter_phone=_phone(rng) if reporter else None,
            attributes=attributes,
        )
        urgency, _ = urgency_for(k, st.code, text)
        ev = DemoEvent(
            create=create,
            subtype=st.code,
            street=street.code,
            district=district.code,
            urgency=urgency,
            steps=[],
            example=example,
        )
        ev.steps = self.lifecycle(ev, st)
        return ev

    def lifecycle(self, ev: DemoEvent, st: Subtype) -> list[DemoStep]:
        rng, now = self.rng, self.now
        t = ev.create.reported_at
        age_h = (now - t).total_seconds() / 3600
        steps: list[DemoStep] = []
        center = f"{self.k.jurisdiction(ev.street).name}指挥中心"

        def step(action: Action, after_h: float, actor: str, **kw: Any) -> bool:
            nonlocal t
            t = t + timedelta(hours=after_h)
            if t > now:
                return False
            steps.append(DemoStep(action=action, at=t, actor=actor, **kw))
            return True

        if age_h < 3 and rng.random() < 0.6:
            return steps  # still waiting for triage
        if st.code in CONSULTATION:
            if (
                step(
                    Action.RESOLVE_DIRECTLY,
                    rng.uniform(0.2, 6),
                    "12345话务员",
                    payload={"answer": "已按政策口径答复"},
                )
                and rng.random() < 0.6
            ):
                step(
                    Action.VERIFY,
                    rng.uniform(12, 48),
                    "回访员",
                    payload={"satisfaction": rng.choice([4, 5, 5])},
                )
            if rng.random() < 0.8:
                step(Action.CLOSE, rng.uniform(24, 72), "系统")
            return steps
        if not step(Action.TRIAGE, rng.uniform(0.05, 0.5), center):
            return steps
        if rng.random() < 0.1 and age_h < 6:
            return steps  # triaged, order awaiting approval
        misroute = rng.random() < 0.09
        lead_override = self.wrong_lead(ev, st) if misroute else None
        if not step(Action.DISPATCH, rng.uniform(0.1, 1.0), center, lead_override=lead_override):
            return steps
        if lead_override:
            code = rng.choice(RETURN_REASONS)
            if not step(
                Action.RETURN,
                rng.uniform(0.5, 8),
                self.k.departments[lead_override].name,
                reason=self.k.return_reasons[code].description,
                reason_code=code,
            ):
                return steps
            if not step(
                Action.REDISPATCH, rng.uniform(0.5, 4), center, reason="改派至正确主办单位"
            ):
                return steps
        sla_h = min(st.sla_hours.disposal, self.k.urgency_levels[ev.urgency].disposal_cap_hours)
        if not step(Action.ACCEPT, rng.uniform(0.1, 3), "承办单位"):
            return steps
        if not step(Action.START, rng.uniform(0.1, 2), "承办单位"):
            return steps
        if rng.random() < 0.06:
            if not step(
                Action.REQUEST_EXTENSION,
                sla_h * rng.uniform(0.3, 0.8),
                "承办单位",
                reason="需协调产权单位，申请延期",
            ):
                return steps
            hours = round(min(self.k.sla.extension.max_hours, sla_h), 1)
            if not step(
                Action.APPROVE_EXTENSION, rng.uniform(0.5, 4), center, payload={"hours": hours}
            ):
                return steps
            sla_h += hours
        late = rng.random()
        duration = sla_h * (rng.uniform(0.1, 0.9) if late < 0.8 else rng.uniform(1.05, 1.8))
        if rng.random() < 0.05:  # stalled: still open, whatever its age
            duration = (now - t).total_seconds() / 3600 + 1
        if t + timedelta(hours=duration) > now:
            if (now - t).total_seconds() / 3600 > sla_h and rng.random() < 0.5:
                step(Action.SUPERVISE, 0.0 + sla_h, center, reason="已超时限，督促办理")
            return steps
        if not step(
            Action.RESOLVE, duration, "承办单位", payload={"result": "已现场处置并回复诉求人"}
        ):
            return steps
        if rng.random() < 0.75:
            score = rng.choices([5, 4, 3, 2, 1], weights=[50, 30, 10, 6, 4])[0]
            if not step(
                Action.VERIFY, rng.uniform(4, 48), "回访员", payload={"satisfaction": score}
            ):
                return steps
            if score <= 2 and rng.random() < 0.5:
                step(Action.REOPEN, rng.uniform(1, 8), center, reason="回访不满意，重新办理")
                return steps
        step(Action.CLOSE, rng.uniform(24, 96), "系统")
        return steps

    def wrong_lead(self, ev: DemoEvent, st: Subtype) -> str | None:
        """A plausible wrong department: the lead of another subtype of the same category."""
        from domain.vocabulary import Level
        from tools.routing import DepartmentsQuery, departments_for

        right = departments_for(
            self.k, DepartmentsQuery(subtype=st.code, jurisdiction=ev.street)
        ).lead.code
        others = [s for s in self.k.subtypes_of(st.category) if s.lead.type != st.lead.type]
        self.rng.shuffle(others)
        for other in others:
            try:
                code = departments_for(
                    self.k,
                    DepartmentsQuery(
                        subtype=other.code, jurisdiction=ev.street, level=Level.DISTRICT
                    ),
                ).lead.code
            except KeyError:
                continue
            if code != right:
                return code
        return None


def generate_events(
    k: Knowledge, *, seed: int, now: datetime, count: int = 640, days: int = 60
) -> list[DemoEvent]:
    """``count`` events reported within ``days`` before ``now``, oldest first."""
    gen = Generator(k, seed, now)
    fresh = count // 40  # a few reported in the last hours: the queue an officer opens to
    times = sorted(
        [
            now - timedelta(hours=gen.rng.betavariate(1.0, 2.2) * days * 24)
            for _ in range(count - fresh)
        ]
        + [now - timedelta(minutes=gen.rng.uniform(2, 180)) for _ in range(fresh)]
    )
    events: list[DemoEvent] = []
    for i, at in enumerate(times):
        citizen = [
            j
            for j in range(max(0, len(events) - 30), len(events))
            if events[j].create.source in CITIZEN and events[j].duplicate_of is None
        ]
        if citizen and gen.rng.random() < 0.05:  # a second report of an earlier incident
            j = gen.rng.choice(citizen)
            first = events[j]
            ev = gen.event(i, at, subtype=first.subtype, near=first)
            ev.duplicate_of = j
            if not first.steps or (at - first.create.reported_at) > timedelta(days=7):
                ev.duplicate_of = None
            elif at + timedelta(hours=1) <= now:
                ev.steps = [
                    DemoStep(
                        action=Action.MERGE_DUPLICATE,
                        at=at + timedelta(hours=1),
                        actor=f"{k.jurisdiction(ev.street).name}指挥中心",
                        reason="与已受理事件为同一事项，合并办理",
                        payload={},
                    )
                ]
            else:
                ev.steps = []
            events.append(ev)
            continue
        events.append(gen.event(i, at))
    return events


def generate_labelled(k: Knowledge, *, seed: int, per_subtype: int = 4) -> list[dict[str, str]]:
    """A labelled set for training the offline classifier: ``per_subtype`` texts per subtype,
    from citizen channels (hotline, web, grid). Separate seed, separate from the demo events."""
    now = datetime(2025, 6, 30, 12, 0)
    gen = Generator(k, seed, now)
    rows = []
    for code in sorted(k.subtypes):
        st = k.subtype(code)
        for n in range(per_subtype):
            district, street = gen.street()
            spot, _ = gen.place(district, street)
            source = [Source.HOTLINE, Source.WEB, Source.GRID][n % 3]
            text, title = gen.compose(
                st, source, spot, district, street, now, gen.rng.choice(st.examples)
            )
            rows.append(
                {
                    "id": f"L{code}-{n + 1}",
                    "text": (title + "。" if title else "") + text,
                    "subtype": code,
                    "category": st.category,
                    "source": source.value,
                }
            )
    return rows
