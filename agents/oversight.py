"""The owning centre's side of a department's work: adjudicating returns (退单裁定) and raising
supervision (督办) on overdue orders. Both take the time as an argument.

A returned order goes to the owning centre: the governance centre at the order's level over the
event's place (the street's centre for a street-level order, the district's or the city's
otherwise), or higher after an escalation. Its officers, and those of the centres above, rule:
accept (the return was right: the event is re-dispatched to the corrected department), reject
(the department must take it: dispatched to it again) or escalate (the centre one level up
rules). Every ruling is a lifecycle transition, an adjudication record, and a feedback row
``return_adjudicated`` that ``sanji train --feedback`` reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from domain.access import Principal
from domain.errors import SanjiError
from domain.lifecycle import Action, IllegalTransition, Status
from domain.models import Event
from domain.vocabulary import Level
from knowledge import Knowledge
from store import EventStore
from tools.scope import covers

Decision = Literal["accept", "reject", "escalate"]
DECISION_ZH: dict[str, str] = {
    "accept": "同意退单并改派",
    "reject": "驳回退单",
    "escalate": "提级裁定",
}
LADDER = (Level.STREET, Level.DISTRICT, Level.CITY)
RANK = {Level.STREET: 1, Level.DISTRICT: 2, Level.CITY: 3, Level.ENTERPRISE: 3}
SYSTEM = "sanji"


class AdjudicationRefused(SanjiError, ValueError):
    """A ruling that cannot be applied: bad input (422) unless ``forbidden`` (403)."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True)
class Owner:
    """The centre that owns a returned order's adjudication."""

    level: Level
    centre: str  # the governance centre's instance code
    centre_name: str


def _ladder_level(level: Level) -> Level:
    return Level.CITY if level is Level.ENTERPRISE else level


def centre_at(k: Knowledge, event: Event, level: Level) -> Owner:
    """The governance centre at ``level`` over the event's place (the city when unplaced)."""
    level = _ladder_level(level)
    place = event.street or event.district or k.city.code
    if level is Level.STREET and event.street is None:
        level = Level.DISTRICT if event.district else Level.CITY
    if level is Level.DISTRICT and event.district is None and event.street is None:
        level = Level.CITY
    dept = k.department("governance_center", place, level)
    return Owner(level=level, centre=dept.code, centre_name=dept.name)


def above(level: Level) -> Level | None:
    i = LADDER.index(_ladder_level(level))
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


def owner_of_return(store: EventStore, k: Knowledge, event: Event) -> Owner | None:
    """Who rules on the event's latest return: the order's level, raised by escalations."""
    order = store.returned_order_row(event.id)
    if order is None:
        return None
    level = Level(order["level"])
    for ruling in store.oversight.adjudications(event.id):
        if ruling["order_id"] == order["id"] and ruling["escalated_to"]:
            level = Level(ruling["escalated_to"])
    return centre_at(k, event, level)


def may_adjudicate(store: EventStore, principal: Principal, event: Event, owner: Owner) -> bool:
    """Officers of the owning centre and of the centres above it, within their jurisdiction."""
    rank = principal.role.level_rank
    return rank >= RANK[owner.level] and covers(store, principal, event)


def adjudicate(
    store: EventStore,
    knowledge: Knowledge,
    event_id: int,
    decision: Decision,
    officer: Principal | str,
    now: datetime,
    *,
    corrected_department: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Event:
    """Rule on the event's latest return and apply the ruling; returns the event after it.

    ``officer`` is the signed-in principal (its authority is checked), or the name of a
    trusted caller (a demo generator) acting for the owning centre. Raises
    ``AdjudicationRefused`` (bad input, or not the owning centre), ``IllegalTransition`` (the
    event is not waiting for a ruling), ``NotFound`` and ``Conflict`` from the store."""
    if decision not in DECISION_ZH:
        raise AdjudicationRefused(f"未知的裁定结果「{decision}」，可选：accept、reject、escalate")
    k = knowledge
    event = store.get_event(event_id)
    if event.status is not Status.RETURNED:
        raise IllegalTransition(
            event.status,
            Action.ADJUDICATE,
            f"事件 {event_id} 当前状态为「{event.status.zh}」，没有待裁定的退单。"
            " (no return waiting for adjudication)",
        )
    order = store.returned_order_row(event_id)
    owner = owner_of_return(store, k, event)
    if order is None or owner is None:
        raise AdjudicationRefused(f"事件 {event_id} 没有被退回的工单")
    actor = officer if isinstance(officer, str) else officer.actor
    if not isinstance(officer, str) and not may_adjudicate(store, officer, event, owner):
        raise AdjudicationRefused(
            f"该退单由{owner.centre_name}（{owner.level.zh}）裁定，您无权裁定。",
            forbidden=True,
        )
    returned_dept = str(order["lead_department"])
    escalated_to: Level | None = None
    note = (note or "").strip()
    if decision == "accept":
        corrected_department = (corrected_department or "").strip() or None
        if corrected_department is None:
            raise AdjudicationRefused("同意退单须指定改派的承办部门。")
        dept = k.departments.get(corrected_department)
        if dept is None:
            raise AdjudicationRefused(f"没有编码为 {corrected_department} 的部门")
        if corrected_department == returned_dept:
            raise AdjudicationRefused(
                "改派的部门与退单部门相同；如需退回原部门办理，请选择驳回退单。"
            )
        place = event.street or event.district or k.city.code
        if not k.serves(dept, place):
            raise AdjudicationRefused(f"{dept.name}不管辖事发地，不能承办")
    else:
        corrected_department = None
    if decision == "escalate":
        escalated_to = above(owner.level)
        if escalated_to is None:
            raise AdjudicationRefused("市级中心已是最高一级，不能再提级；请同意或驳回退单。")
    returns = store.returns_of(event_id)
    reason_code = returns[-1]["reason_code"] if returns else order.get("return_reason_code")
    zh = DECISION_ZH[decision]
    with store.db.transaction():
        store.transition(
            event_id,
            Action.ADJUDICATE,
            actor=actor,
            at=now,
            expected_version=expected_version,
            reason=f"{zh}" + (f"：{note}" if note else ""),
            payload={
                "decision": decision,
                "returned_department": returned_dept,
                "corrected_department": corrected_department,
                "owner": owner.centre,
                "escalated_to": escalated_to.value if escalated_to else None,
            },
        )
        _label(
            store,
            event,
            order,
            decision,
            corrected_department,
            reason_code,
            note,
            actor,
            owner,
            escalated_to,
            now,
        )
        if decision != "escalate":
            new = store.order_of(order)
            lead = corrected_department or returned_dept
            new.lead_department = lead
            new.assisting_departments = [d for d in new.assisting_departments if d != lead]
            new.accepted_at = None
            new.extension_hours = 0
            new.explanation = (
                f"{new.explanation} 退单裁定（{actor}）：{zh}，由{k.departments[lead].name}承办。"
            ).strip()
            store.dispatch_order(
                store.get_event(event_id),
                new,
                officer=actor,
                triaged_by=actor,
                now=now,
                decision=f"adjudicate_{decision}",
            )
    return store.get_event(event_id)


def _label(
    store: EventStore,
    event: Event,
    order: dict[str, Any],
    decision: str,
    corrected: str | None,
    reason_code: str | None,
    note: str,
    actor: str,
    owner: Owner,
    escalated_to: Level | None,
    now: datetime,
) -> None:
    """The ruling's decision record, and the feedback row ``sanji train --feedback`` reads."""
    order_id = int(order["id"])
    store.oversight.add_adjudication(
        event_id=event.id,
        order_id=order_id,
        decision=decision,
        returned_department=str(order["lead_department"]),
        corrected_department=corrected,
        reason_code=reason_code,
        note=note or None,
        officer=actor,
        owner_level=owner.level.value,
        escalated_to=escalated_to.value if escalated_to else None,
        now=now,
    )
    store.add_feedback(
        event_id=event.id,
        officer=actor,
        kind="return_adjudicated",
        payload={
            "decision": decision,
            "returned_department": str(order["lead_department"]),
            "corrected_department": corrected,
            "reason_code": reason_code,
            "note": note,
            "subtype": event.subtype,
            "order_id": order_id,
        },
        now=now,
        order_id=order_id,
    )


def label_approved_redraft(
    store: EventStore, knowledge: Knowledge, event: Event, lead: str, officer: str, now: datetime
) -> None:
    """A returned event dispatched again by approving (or editing) its redraft is a ruling
    too: accept, to the new lead, or reject when the lead is the department that returned
    it. Its record and label are kept like an adjudication's; the redispatch that follows is
    its transition."""
    order = store.returned_order_row(event.id)
    owner = owner_of_return(store, knowledge, event)
    if order is None or owner is None:
        return
    returns = store.returns_of(event.id)
    reason_code = returns[-1]["reason_code"] if returns else order.get("return_reason_code")
    same = lead == order["lead_department"]
    _label(
        store,
        event,
        order,
        "reject" if same else "accept",
        None if same else lead,
        reason_code,
        "",
        officer,
        owner,
        None,
        now,
    )


# -- supervision ---------------------------------------------------------------------------


def sweep_overdue(
    store: EventStore, knowledge: Knowledge, now: datetime, *, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Raise the supervision steps of ``sla.yaml`` that overdue open orders have reached.

    Idempotent: each step is raised once per order (the store keeps which), so calling it
    again, from the server's timer or ``sanji supervise``, raises nothing new. Returns what was
    raised now: event id, order id, step, the supervising centre."""
    from domain.models import Scope

    steps = knowledge.sla.supervision
    if not steps:
        return []
    raised: list[dict[str, Any]] = []
    overdue = store.overdue(Scope(everything=True), as_of=now, limit=limit)
    orders = store.current_order_rows([int(r["id"]) for r in overdue])
    done = store.oversight.claimed([int(o["id"]) for o in orders.values()])
    for row in overdue:
        due: datetime | None = row["due_at"]
        order = orders.get(int(row["id"]))
        if order is None or due is None:
            continue
        order_id = int(order["id"])
        for step in steps:
            if now < due + timedelta(hours=step.after_overdue_hours):
                continue
            if (order_id, step.code) in done:
                continue
            event = store.get_event(int(row["id"]))
            level = Level(order["level"])
            for _ in range(step.up_levels):
                level = above(level) or level
            centre = centre_at(knowledge, event, level)
            hours = (now - due).total_seconds() / 3600
            try:
                with store.db.transaction():
                    if not store.oversight.claim_step(
                        order_id=order_id, step=step.code, event_id=event.id, at=now
                    ):
                        continue  # another sweep raised it just now
                    store.transition(
                        event.id,
                        Action.SUPERVISE,
                        actor=SYSTEM,
                        at=now,
                        reason=f"{step.name}：已超过办理时限 {hours:.1f} 小时（{step.description}）",
                        payload={
                            "step": step.code,
                            "order_id": order_id,
                            "centre": centre.centre,
                            "centre_name": centre.centre_name,
                            "automatic": True,
                        },
                    )
            except IllegalTransition:  # moved on meanwhile (resolved): nothing to supervise
                continue
            raised.append(
                {
                    "event_id": event.id,
                    "order_id": order_id,
                    "step": step.code,
                    "name": step.name,
                    "centre": centre.centre,
                    "centre_name": centre.centre_name,
                }
            )
    return raised
