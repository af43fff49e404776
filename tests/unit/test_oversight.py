"""Departments as users over the store, on SQLite and PostgreSQL: what a department sees,
adjudicated returns (transition, record, feedback row), automatic supervision, attachments."""

from datetime import UTC, datetime, timedelta

import pytest

from agents.oversight import (
    AdjudicationRefused,
    adjudicate,
    owner_of_return,
    sweep_overdue,
)
from domain.access import Principal, Role
from domain.lifecycle import Action, IllegalTransition, Status
from domain.models import EventCreate, Scope, Source
from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from store import EventStore
from tools.drafting import draft_order
from tools.scope import may_see, scope_for

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STREET = "500103003"  # 解放碑街道
DISTRICT = "500103"
ENFORCEMENT = f"{STREET}.street_enforcement"
URBAN = f"{DISTRICT}.urban_mgmt"


def officer(k: Knowledge, role: Role, code: str, name: str = "值班员") -> Principal:
    return Principal(
        user_id=1,
        username=name,
        display_name=name,
        role=role,
        jurisdiction=code,
        scope=scope_for(k, [code]),
    )


def dispatched(
    store: EventStore,
    k: Knowledge,
    *,
    lead: str = ENFORCEMENT,
    level: Level = Level.STREET,
    external_id: str = "H-1",
) -> int:
    e, _ = store.add_event(
        EventCreate(
            source=Source.HOTLINE,
            external_id=external_id,
            text="解放碑步行街有人占道摆摊",
            reported_at=T0,
        ),
        now=T0,
    )
    store.set_classification(
        e.id,
        street=STREET,
        district=DISTRICT,
        subtype="CA01",
        category="CA",
        urgency=Urgency.NORMAL,
        now=T0,
    )
    store.transition(e.id, Action.TRIAGE, actor="指挥中心", at=T0)
    order = draft_order(
        k, event_id=e.id, subtype="CA01", jurisdiction=STREET, urgency=Urgency.NORMAL
    )
    order.lead_department, order.level = lead, level
    order.assisting_departments = [URBAN] if lead != URBAN else []
    store.add_order(order, now=T0)
    store.transition(e.id, Action.DISPATCH, actor="指挥中心", at=T0)
    return e.id


def returned(store: EventStore, k: Knowledge, **kw: object) -> int:
    event_id = dispatched(store, k, **kw)  # type: ignore[arg-type]
    store.transition(
        event_id,
        Action.RETURN,
        actor="执法大队",
        at=T0 + timedelta(hours=1),
        reason="不属于我们",
        reason_code="not_our_duty",
    )
    return event_id


def test_a_department_sees_the_orders_addressed_to_it_and_nothing_else(
    store: EventStore, knowledge: Knowledge
) -> None:
    mine = dispatched(store, knowledge)
    other = dispatched(store, knowledge, lead=f"{STREET}.street_office", external_id="H-2")
    lead, assisting = Scope(department=ENFORCEMENT), Scope(department=URBAN)
    assert may_see(store, lead, "x", store.get_event(mine))
    assert not may_see(store, lead, "x", store.get_event(other))
    assert may_see(store, assisting, "x", store.get_event(mine))  # 协办
    assert store.part_of(mine, ENFORCEMENT) == "lead"
    assert store.part_of(mine, URBAN) == "assisting"
    assert store.part_of(other, ENFORCEMENT) is None
    page = store.search(lead, limit=50)
    assert [r["id"] for r in page[0]] == [mine]


def test_accepting_a_return_redispatches_to_the_corrected_department_and_leaves_a_label(
    store: EventStore, knowledge: Knowledge
) -> None:
    event_id = returned(store, knowledge)
    now = T0 + timedelta(hours=2)
    centre = officer(knowledge, Role.STREET, STREET)
    event = adjudicate(
        store,
        knowledge,
        event_id,
        "accept",
        centre,
        now,
        corrected_department=f"{STREET}.street_office",
        note="占道经营由街道办牵头",
    )
    assert event.status is Status.DISPATCHED
    assert event.lead_department == f"{STREET}.street_office"
    actions = [h["action"] for h in store.history(event_id)]
    assert actions[-3:] == ["return", "adjudicate", "redispatch"]
    [fb] = [f for f in store.feedback(event_id) if f["kind"] == "return_adjudicated"]
    returned_order = store.returned_order_row(event_id)
    assert returned_order is not None
    assert fb["payload"] == {
        "decision": "accept",
        "returned_department": ENFORCEMENT,
        "corrected_department": f"{STREET}.street_office",
        "reason_code": "not_our_duty",
        "note": "占道经营由街道办牵头",
        "subtype": "CA01",
        "order_id": returned_order["id"],
    }
    [record] = store.oversight.adjudications(event_id)
    assert record["decision"] == "accept" and record["officer"] == "值班员"
    assert store.part_of(event_id, f"{STREET}.street_office") == "lead"
    assert store.part_of(event_id, ENFORCEMENT) is None


def test_rejecting_sends_it_back_and_escalating_moves_the_ruling_up(
    store: EventStore, knowledge: Knowledge
) -> None:
    event_id = returned(store, knowledge)
    street, district = (
        officer(knowledge, Role.STREET, STREET),
        officer(knowledge, Role.DISTRICT, DISTRICT, "区值班员"),
    )
    now = T0 + timedelta(hours=2)
    with pytest.raises(AdjudicationRefused, match="改派"):
        adjudicate(store, knowledge, event_id, "accept", street, now)
    escalated = adjudicate(store, knowledge, event_id, "escalate", street, now, note="职责有争议")
    assert escalated.status is Status.RETURNED
    owner = owner_of_return(store, knowledge, escalated)
    assert owner is not None and owner.level is Level.DISTRICT
    with pytest.raises(AdjudicationRefused) as refused:
        adjudicate(store, knowledge, event_id, "reject", street, now)
    assert refused.value.forbidden and "渝中区" in str(refused.value)
    back = adjudicate(store, knowledge, event_id, "reject", district, now)
    assert back.status is Status.DISPATCHED and back.lead_department == ENFORCEMENT
    decisions = [f["payload"]["decision"] for f in store.feedback(event_id)]
    assert decisions == ["escalate", "reject"]
    with pytest.raises(IllegalTransition):
        adjudicate(store, knowledge, event_id, "reject", district, now)


def test_a_department_cannot_adjudicate(store: EventStore, knowledge: Knowledge) -> None:
    event_id = returned(store, knowledge)
    dept = Principal(
        user_id=2,
        username="zf",
        display_name="执法大队",
        role=Role.DEPARTMENT,
        jurisdiction=ENFORCEMENT,
        scope=Scope(department=ENFORCEMENT),
    )
    with pytest.raises(AdjudicationRefused) as refused:
        adjudicate(store, knowledge, event_id, "reject", dept, T0)
    assert refused.value.forbidden
    assert store.get_event(event_id).status is Status.RETURNED


def test_overdue_orders_are_supervised_once_per_step(
    store: EventStore, knowledge: Knowledge
) -> None:
    event_id = dispatched(store, knowledge)
    store.transition(event_id, Action.ACCEPT, actor="执法大队", at=T0)
    due = store.get_event(event_id).due_at
    assert due is not None
    assert sweep_overdue(store, knowledge, due - timedelta(minutes=1)) == []
    first = sweep_overdue(store, knowledge, due + timedelta(hours=1))
    assert [(r["event_id"], r["step"]) for r in first] == [(event_id, "overdue")]
    assert first[0]["centre"] == f"{STREET}.governance_center"
    assert sweep_overdue(store, knowledge, due + timedelta(hours=2)) == []
    later = sweep_overdue(store, knowledge, due + timedelta(hours=30))
    assert [r["step"] for r in later] == ["overdue_24h"]
    assert later[0]["centre"] == f"{DISTRICT}.governance_center"  # one level up
    assert sweep_overdue(store, knowledge, due + timedelta(hours=31)) == []
    event = store.get_event(event_id)
    assert event.supervised
    supervisions = [h for h in store.history(event_id) if h["action"] == "supervise"]
    assert [h["payload"]["step"] for h in supervisions] == ["overdue", "overdue_24h"]


def test_attachments_keep_their_bytes(store: EventStore, knowledge: Knowledge) -> None:
    event_id = dispatched(store, knowledge)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    meta = store.attachments.add(
        event_id,
        content=png,
        filename="现场照片.png",
        media_type="image/png",
        uploaded_by="zf",
        department=ENFORCEMENT,
        now=T0,
    )
    assert meta["size"] == len(png) and meta["filename"] == "现场照片.png"
    assert store.attachments.content(meta["id"]) == png
    assert [a["id"] for a in store.attachments.of_event(event_id)] == [meta["id"]]


def test_the_servers_timer_sweeps_once_the_store_is_open(
    store: EventStore, knowledge: Knowledge
) -> None:
    import asyncio

    from api.startup import Startup
    from api.sweeper import sweep_once, sweep_periodically

    event_id = dispatched(store, knowledge)
    store.transition(event_id, Action.ACCEPT, actor="执法大队", at=T0)  # long overdue by now
    startup = Startup()
    assert sweep_once(startup) == 0  # still starting: nothing to sweep yet
    startup.opened(store, knowledge)

    async def until_supervised() -> None:
        timer = asyncio.create_task(sweep_periodically(startup, 0.01))
        try:
            while not store.get_event(event_id).supervised:
                await asyncio.sleep(0.01)
        finally:
            timer.cancel()

    asyncio.run(asyncio.wait_for(until_supervised(), timeout=120))
    steps = [h["payload"]["step"] for h in store.history(event_id) if h["action"] == "supervise"]
    assert steps[0] == "overdue" and len(steps) == len(set(steps))
    assert sweep_once(startup) == 0  # every step is raised already
