"""Events over HTTP: file (idempotent by source + external id), list, get with history, and the
lifecycle as explicit actions. Every call runs under the caller's scope: an event outside it
answers 404, as if it did not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Response

from agents.dispatch import Dispatcher, Engine, for_caller
from agents.review import summarize_review
from api.common import masked, visible
from api.deps import (
    ActorDep,
    AgentDepsDep,
    DispatcherDep,
    KnowledgeDep,
    PrincipalDep,
    StoreDep,
)
from api.errors import ERROR_RESPONSES
from api.schemas import (
    ActionIn,
    ActionResultPublic,
    AllowedAction,
    EventIn,
    EventViewPublic,
    FiledPublic,
    ReviewPublic,
)
from domain.access import Principal, Role
from domain.clock import to_utc
from domain.drafts import PendingDraft
from domain.lifecycle import (
    ASSISTING_ACTIONS,
    DEPARTMENT_ACTIONS,
    Action,
    Status,
    allowed_actions,
    department_actions,
)
from domain.models import Event, Source
from knowledge import Knowledge
from store import EventStore
from tools import duplicates, events, stats
from tools.pii import mask_deep
from tools.scope import covers, foreign_duplicates, without_events

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERROR_RESPONSES)

#: a query that names a jurisdiction
Q = TypeVar("Q", events.EventQuery, events.OverdueQuery, stats.StatsQuery)


def event_view(store: EventStore, principal: Principal, event: Event) -> EventViewPublic:
    pending = store.approvals.pending(event.id)
    decisions = store.decisions(event.id)
    hidden = foreign_duplicates(store, principal.scope, principal.actor, decisions)

    def show(records: Any) -> Any:
        """Duplicates outside the caller's scope unnamed, personal information masked."""
        records = without_events(records, hidden)
        return records if principal.reveals_personal else mask_deep(records)

    actions = allowed_actions(event.status)
    if principal.role is Role.DEPARTMENT:
        actions = department_actions(event.status, store.part_of(event.id, principal.jurisdiction))
    return EventViewPublic(
        event=masked(event, principal),
        allowed_actions=[AllowedAction(action=a.value, name=a.zh) for a in actions],
        history=show(store.history(event.id)),
        orders=show([o.model_dump(mode="json") for o in store.orders(event.id)]),
        ai_decisions=show(decisions) if principal.role.acts else [],
        feedback=show(store.feedback(event.id)) if principal.role.acts else [],
        pending_approval=pending["id"] if pending else None,
    )


@router.post(
    "/events",
    status_code=201,
    responses={
        200: {"model": FiledPublic, "description": "同一来源、同一外部编号已登记过：返回已有事件"}
    },
)
def file_event(
    body: EventIn,
    response: Response,
    principal: PrincipalDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    triage: Annotated[bool, Query(description="登记后立即智能分拨，返回派单草稿")] = False,
    engine: Engine = "auto",
) -> FiledPublic:
    """登记事件。同一来源、同一外部编号重复提交时返回已有事件（幂等）。"""
    now = datetime.now(UTC)
    create, warnings = body.to_create(now)
    event, created = store.add_event(create, now=now, actor=principal.actor)
    if not created and not covers(store, principal, event):
        raise HTTPException(
            409, detail="该来源的外部编号已被使用，且不在您的辖区内；请更换外部编号"
        )
    if not created:
        response.status_code = 200
        warnings.append(
            f"该来源的外部编号 {create.external_id} 已登记为事件 {event.id}，未重复登记"
        )
    draft = None
    if triage:
        try:
            view = dispatcher.triage(event.id, by=principal.actor, engine=engine)
            draft = PendingDraft.model_validate(for_caller(view, store, principal))
        except Exception as exc:  # the event is stored whatever happens to its triage
            warnings.append(f"事件已登记，但智能分拨失败：{type(exc).__name__}: {exc}")
    return FiledPublic(
        id=event.id, created=created, status=event.status.value, warnings=warnings, draft=draft
    )


@router.get("/events")
def list_events(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction: str | None = None,
    category: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI reads the default)
    subtype: Annotated[list[str], Query()] = [],  # noqa: B006
    status: Annotated[list[Status], Query()] = [],  # noqa: B006
    source: Annotated[list[Source], Query()] = [],  # noqa: B006
    since: datetime | None = None,
    until: datetime | None = None,
    text: Annotated[str | None, Query(max_length=100)] = None,
    supervised: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> events.EventPage:
    """按辖区、分类、状态、来源、时间和关键词查询本人辖区内的事件，最新的在前。"""
    query = events.EventQuery(
        jurisdiction=jurisdiction,
        category=category,
        subtype=subtype,
        status=status,
        source=source,
        since=since,
        until=until,
        text=text,
        supervised=supervised,
        limit=limit,
        offset=offset,
    )
    return events.search_events(
        store,
        knowledge,
        principal.scope,
        _known(knowledge, query),
        reveal_personal=principal.reveals_personal,
    )


def _known(knowledge: Knowledge, q: Q) -> Q:
    if q.jurisdiction is not None and q.jurisdiction not in knowledge.jurisdictions:
        raise HTTPException(422, detail=f"未知的辖区编码 {q.jurisdiction}")
    return q


def _deadline_query(
    knowledge: Knowledge, jurisdiction: str | None, limit: int
) -> events.OverdueQuery:
    q = events.OverdueQuery(jurisdiction=jurisdiction, as_of=datetime.now(UTC), limit=limit)
    return _known(knowledge, q)


@router.get("/events/overdue")
def overdue(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[events.EventSummary]:
    """已超过办理时限（自签收起算）的事件，最早到期的在前。"""
    q = _deadline_query(knowledge, jurisdiction, limit)
    return events.list_overdue(store, knowledge, principal.scope, q)


@router.get("/events/due-soon")
def due_soon(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[events.EventSummary]:
    """即将到期（剩余时间不足时限两成）的事件。"""
    q = _deadline_query(knowledge, jurisdiction, limit)
    return events.list_due_soon(store, knowledge, principal.scope, q)


@router.get("/events/{event_id}")
def get_event(event_id: int, principal: PrincipalDep, store: StoreDep) -> EventViewPublic:
    """一件事件：原文（按角色脱敏）、流转记录、派单、智能分拨记录和审核意见。"""
    return event_view(store, principal, visible(store, principal, event_id))


@router.get("/events/{event_id}/duplicates")
def event_duplicates(
    event_id: int, principal: PrincipalDep, store: StoreDep, knowledge: KnowledgeDep
) -> list[duplicates.DuplicateCandidate]:
    """与这件事件相似的其他事件（同一地点附近、时间相近、内容相似）。"""
    q = duplicates.query_for(visible(store, principal, event_id))
    return duplicates.find_duplicates(store, knowledge, principal.scope, q)


@router.get("/events/{event_id}/review", response_model=ReviewPublic)
def event_review(
    event_id: int,
    principal: PrincipalDep,
    store: StoreDep,
    agent_deps: AgentDepsDep,
    engine: Literal["offline", "llm"] = "offline",
) -> dict[str, Any]:
    """复盘：时间线、各环节用时、是否超时、退单及原因、满意度和改进建议。"""
    visible(store, principal, event_id)
    review: dict[str, Any] = summarize_review(agent_deps, event_id, engine=engine)
    return review if principal.reveals_personal else dict(mask_deep(review))


@router.get("/stats", tags=["stats"])
def event_stats(
    principal: PrincipalDep,
    store: StoreDep,
    knowledge: KnowledgeDep,
    jurisdiction: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: stats.GroupBy = "none",
    category: Annotated[list[str], Query()] = [],  # noqa: B006
) -> stats.StatsReport:
    """辖区统计：事件数、办结用时、按时办结率、退单率、满意度，可分组；默认近 30 天。"""
    until = to_utc(until) if until else datetime.now(UTC)
    since = to_utc(since) if since else until - timedelta(days=30)
    if since >= until:
        raise HTTPException(422, detail="统计起始时间应早于结束时间")
    q = stats.StatsQuery(
        jurisdiction=jurisdiction, since=since, until=until, group_by=group_by, category=category
    )
    return stats.event_stats(store, knowledge, principal.scope, _known(knowledge, q))


# -- lifecycle actions --------------------------------------------------------------------


SUPERVISING = {Action.SUPERVISE, Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION}
EXPOSED = [
    Action.DISPATCH,
    Action.ACCEPT,
    Action.RETURN,
    Action.REDISPATCH,
    Action.RETRIAGE,
    Action.START,
    Action.REQUEST_EXTENSION,
    Action.APPROVE_EXTENSION,
    Action.REJECT_EXTENSION,
    Action.RESOLVE,
    Action.RESOLVE_DIRECTLY,
    Action.VERIFY,
    Action.REOPEN,
    Action.CLOSE,
    Action.SUPERVISE,
    Action.REPORT_PROGRESS,
]


def check_department(principal: Principal, store: EventStore, event: Event, action: Action) -> str:
    """A department acts only as itself, on the current order addressed to it; returns its
    part in that order (lead or assisting)."""
    if action not in DEPARTMENT_ACTIONS:
        raise HTTPException(403, detail=f"部门经办人不能执行「{action.zh}」，请联系指挥中心。")
    part = store.part_of(event.id, principal.jurisdiction)
    if part is None:
        raise HTTPException(403, detail=f"事件 {event.id} 当前的工单不是派给本部门的，不能办理。")
    if part == "assisting" and action not in ASSISTING_ACTIONS:
        raise HTTPException(
            403, detail="协办部门只能反馈进展；签收、退单、延期和办结由主办部门操作。"
        )
    return part


def _act(
    action: Action,
    event_id: int,
    body: ActionIn,
    principal: Principal,
    store: EventStore,
    dispatcher: Dispatcher,
) -> ActionResultPublic:
    if action in SUPERVISING and not principal.role.supervises:
        raise HTTPException(403, detail=f"「{action.zh}」需由区县或市级工作人员操作")
    event = visible(store, principal, event_id)
    payload: dict[str, Any] = {}
    if principal.role is Role.DEPARTMENT:
        payload["department"] = principal.jurisdiction
        payload["part"] = check_department(principal, store, event, action)
    if body.attachments:
        known = {a["id"] for a in store.attachments.of_event(event.id)}
        unknown = [a for a in body.attachments if a not in known]
        if unknown:
            raise HTTPException(
                422, detail=f"附件 {'、'.join(map(str, unknown))} 不属于事件 {event.id}"
            )
        payload["attachments"] = list(body.attachments)
    if body.hours is not None:
        payload["hours"] = body.hours
    if body.satisfaction is not None:
        payload["satisfaction"] = body.satisfaction
    updated = store.transition(
        event.id,
        action,
        actor=principal.actor,
        at=datetime.now(UTC),
        expected_version=body.expected_version,
        reason=body.reason,
        reason_code=body.reason_code,
        payload=payload,
    )
    result = ActionResultPublic(event=masked(updated, principal))
    if action is Action.RETURN:  # back through routing, the returning department excluded
        try:
            redraft = dispatcher.triage(event.id, by="sanji", force=True)
            if principal.role is not Role.DEPARTMENT:  # the centre adjudicates, not the department
                result.redraft = PendingDraft.model_validate(for_caller(redraft, store, principal))
        except Exception as exc:
            result.warnings.append(f"退单已登记，但重新分拨失败：{type(exc).__name__}: {exc}")
    return result


def _endpoint(action: Action) -> Any:
    def endpoint(
        event_id: int,
        principal: ActorDep,
        store: StoreDep,
        dispatcher: DispatcherDep,
        body: ActionIn | None = None,
    ) -> ActionResultPublic:
        return _act(action, event_id, body or ActionIn(), principal, store, dispatcher)

    endpoint.__name__ = f"event_{action.value}"
    endpoint.__doc__ = f"{action.zh}（{action.value}）。"
    return endpoint


for _action in EXPOSED:
    router.add_api_route(
        f"/events/{{event_id}}/{_action.value.replace('_', '-')}",
        _endpoint(_action),
        methods=["POST"],
        response_model=ActionResultPublic,
        summary=f"{_action.zh}",
        tags=["lifecycle"],
    )
