"""Drafting and approving dispatch orders, for every front end (API, chat, CLI).

A draft for text that is not stored runs the draft-only graph and keeps nothing. Triage of a
stored event runs the full graph until it waits for approval (a LangGraph interrupt kept by
the checkpointer); the waiting run is recorded in ``approvals`` so that a decision resumes
exactly one run, once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.types import Command

from agents.deps import AgentDeps
from agents.errors import DecisionInvalid, NothingPending, NotTriageable
from agents.graph import build_batch_draft_graph, build_triage_graph
from agents.intake import CANDIDATES, classified_text, masked_address
from agents.state import TriageContext
from domain.access import Principal
from domain.decisions import Decision
from domain.drafts import (
    AlarmRuleHit,
    ApprovalWait,
    DispatchDraft,
    DraftCategory,
    DraftDeadlines,
    DraftDepartment,
    DutyBasis,
    EscalationRuleHit,
    LegalBasis,
    PendingDraft,
    PrecedentCase,
    PrecedentConfidence,
)
from domain.lifecycle import WAITING_FOR_DISPATCH
from domain.models import EventCreate
from knowledge import Knowledge
from store import Conflict
from tools.pii import mask_deep
from tools.scope import foreign_duplicates, without_events

Engine = Literal["auto", "offline", "llm"]


def build_draft(out: dict[str, Any], k: Knowledge) -> DispatchDraft:
    """The draft dispatch order as officers and integrators read it, from a triage run's
    state: every choice with the duty, rule or article it rests on."""
    c, d, r = out["classification"], out["draft"], out["routing"]
    assist_duties = {a["code"]: a.get("duty_ids", []) for a in r.get("assisting", [])}

    def department(code: str, duty_ids: list[str]) -> DraftDepartment:
        duties = [k.duties[x].text for x in duty_ids if x in k.duties]
        return DraftDepartment(code=code, name=k.departments[code].name, duties=duties)

    return DispatchDraft(
        event_id=out.get("event_id") or None,
        category=DraftCategory(
            code=c["subtype"],
            name=c["subtype_name"],
            category=c["category_name"],
            confidence=c["confidence"],
            alternatives=c["alternatives"],
        ),
        lead_department=department(d["lead_department"], r["lead"].get("duty_ids", [])),
        assisting_departments=[
            department(x, assist_duties.get(x, [])) for x in d["assisting_departments"]
        ],
        level=d["level"],
        urgency=d["urgency"],
        deadlines=DraftDeadlines(
            response_hours=d["response_hours"],
            disposal_hours=d["disposal_hours"],
            clock_starts="签收",
        ),
        legal_basis=[
            LegalBasis(title=x["title"], article=x["article"], text=x["excerpt"])
            for x in d["legal_basis"]
        ],
        proposed_basis=[
            LegalBasis(title=x["title"], article=x["article"], text=x["excerpt"], why=x["why"])
            for x in out.get("proposed_citations", [])
        ],
        duty_basis=[DutyBasis(id=x, text=k.duties[x].text) for x in d["duty_basis"]],
        escalation_rules=[
            EscalationRuleHit(id=x["id"], name=x["name"], why=x["why"]) for x in r["escalation"]
        ],
        reroute=r.get("reroute", []),
        steps=d["steps"],
        explanation=d["explanation"],
        engine=d["engine"],
        location=out["location"],
        duplicates=out.get("duplicates", []),
        needs_human=out.get("needs_human", []),
        injection=out.get("injection", []),
        trace=out.get("trace", []),
        alarm_rules=[AlarmRuleHit(**x) for x in c.get("alarm_rules", [])],
        pending_lead_type=r.get("pending_lead_type"),
        precedents=[PrecedentCase(**p) for p in (r.get("precedent") or {}).get("precedents", [])],
        # a draft waiting since before verdicts carried a confidence has none
        precedent_confidence=(
            PrecedentConfidence(**sure)
            if (sure := (r.get("precedent") or {}).get("confidence"))
            else None
        ),
    )


def draft_view(out: dict[str, Any], k: Knowledge) -> dict[str, Any]:
    """``build_draft`` as the plain dict front ends pass around (same keys, same order)."""
    return build_draft(out, k).model_dump()


@dataclass
class Dispatcher:
    deps: AgentDeps
    checkpointer: Any
    observe: Callable[[list[dict[str, Any]]], None] = lambda trace: None
    _graph: Any = field(init=False, repr=False)
    _drafts: Any = field(init=False, repr=False)
    _batch: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._graph = build_triage_graph(self.deps, self.checkpointer)
        self._drafts = build_triage_graph(self.deps, draft_only=True)
        self._batch = build_batch_draft_graph(self.deps)

    def context(self, engine: Engine, actor: str = "sanji") -> TriageContext:
        use_llm = engine == "llm" or (engine == "auto" and self.deps.llm is not None)
        return TriageContext(engine="llm" if use_llm else "offline", actor=actor)

    # -- drafts that store nothing ----------------------------------------------------------

    def draft(self, event: EventCreate, engine: Engine = "auto") -> dict[str, Any]:
        out = self._drafts.invoke(
            {"event": event.model_dump(mode="json")}, context=self.context(engine)
        )
        self.observe(out.get("trace", []))
        return draft_view(out, self.deps.knowledge)

    def draft_many(
        self, events: Sequence[EventCreate], engine: Engine = "auto"
    ) -> list[dict[str, Any]]:
        """Drafts for a batch of events that are not stored, in their order: one run of the
        batch draft graph (the draft graph's agents over every event), the classifier first
        scoring the whole batch at once. Each draft equals what ``draft`` gives for its event;
        an event that fails carries its error and the others are drafted."""
        if not events:
            return []
        texts = [classified_text(e.title, e.text) for e in events]
        items = [{"state": {"event": e.model_dump(mode="json")}} for e in events]
        book = self.deps.casebook
        verdicts = (
            book.primed(
                [(t, masked_address(e.address)) for t, e in zip(texts, events, strict=True)]
            )
            if book
            else nullcontext()
        )
        with self.deps.classifier.primed(texts, top=CANDIDATES), verdicts:
            out = self._batch.invoke({"items": items}, context=self.context(engine))
        results: list[dict[str, Any]] = []
        for item in out["items"]:
            if item.get("error"):
                results.append({"ok": False, "error": item["error"]})
                continue
            self.observe(item["state"].get("trace", []))
            try:
                results.append(
                    {"ok": True, "draft": draft_view(item["state"], self.deps.knowledge)}
                )
            except Exception as exc:  # a state the draft model refuses fails alone
                results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return results

    # -- triage of stored events, approval -------------------------------------------------

    def triage(
        self, event_id: int, *, by: str, engine: Engine = "auto", force: bool = False
    ) -> dict[str, Any]:
        """Run the graph up to the approval step; the draft waits there. A draft already
        waiting is returned as is unless ``force``."""
        if not force:
            waiting = self.pending(event_id)
            if waiting is not None:
                return waiting
        event = self.deps.store.get_event(event_id)  # NotFound before any work
        if event.status not in WAITING_FOR_DISPATCH:
            raise NotTriageable(
                f"事件 {event_id} 当前状态为「{event.status.zh}」，只有受理、分拨或退单状态的事件可以智能分拨。"
            )
        thread = f"event-{event_id}-{uuid.uuid4().hex[:10]}"
        config = {"configurable": {"thread_id": thread}}
        out = self._graph.invoke({"event_id": event_id}, config, context=self.context(engine))
        self.observe(out.get("trace", []))
        self.deps.store.approvals.open(event_id, thread, by=by, now=self.deps.clock())
        view = self.pending(event_id)
        if view is None:  # the event moved on (dispatched, merged…) right after it was recorded
            raise Conflict(f"事件 {event_id} 已由他人处理，新起草的派单草稿作废，请刷新后查看。")
        return view

    def pending(self, event_id: int) -> dict[str, Any] | None:
        row = self.deps.store.approvals.pending(event_id)
        if row is None:
            return None
        snapshot = self._graph.get_state({"configurable": {"thread_id": row["thread_id"]}})
        if not snapshot.next:
            return None
        waiting = [i.value for t in snapshot.tasks for i in t.interrupts]
        draft = build_draft(snapshot.values, self.deps.knowledge)
        approval = ApprovalWait(
            id=row["id"],
            thread_id=row["thread_id"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            question=waiting[0].get("question") if waiting else None,
            errors=waiting[0].get("errors", []) if waiting else [],
        )
        view = PendingDraft(**{**dict(draft), "event_id": event_id, "approval": approval})
        return view.model_dump()

    def decide(
        self,
        event_id: int,
        decision: Decision | dict[str, Any],
        *,
        by: str,
        engine: Engine = "auto",
        approval_id: int | None = None,
    ) -> dict[str, Any]:
        """Resume the waiting run with an officer's decision (approve, edit, reject, merge).
        Returns the outcome; raises DecisionInvalid (the run keeps waiting), Conflict (someone
        else decided first) or NothingPending."""
        if not isinstance(decision, dict):
            decision = decision.model_dump(mode="json", exclude_none=True)
        approvals = self.deps.store.approvals
        row = approvals.pending(event_id)
        if row is None:
            last = approvals.latest(event_id)
            if last is None:
                raise NothingPending(f"事件 {event_id} 没有待审核的派单草稿，请先进行智能分拨。")
            by_whom = f"已由 {last['decided_by']} 处理" if last["decided_by"] else "已失效"
            raise Conflict(f"事件 {event_id} 的派单草稿{by_whom}，请刷新后查看事件当前状态。")
        if approval_id is not None and row["id"] != approval_id:
            raise Conflict("您审核的派单草稿已被新的草稿取代，请刷新后查看新草稿。")
        approvals.claim(row["id"], by=by, now=self.deps.clock())
        config = {"configurable": {"thread_id": row["thread_id"]}}
        try:
            self._graph.invoke(
                Command(resume={**decision, "officer": by}),
                config,
                context=self.context(engine, actor=by),
            )
        except BaseException:
            approvals.release(row["id"])
            raise
        snapshot = self._graph.get_state(config)
        if snapshot.next:  # the approval step asked again: the decision was refused
            approvals.release(row["id"])
            errors = [e for t in snapshot.tasks for i in t.interrupts for e in i.value["errors"]]
            raise DecisionInvalid(errors or ["审核意见无法执行"])
        outcome = str(snapshot.values.get("outcome", "unknown"))
        approvals.finish(row["id"], outcome)
        if outcome == "stale":  # the event moved on while the decision was being applied
            status = self.deps.store.get_event(event_id).status
            raise Conflict(
                f"事件 {event_id} 已由他人处理（当前状态「{status.zh}」），该派单草稿已失效，未执行。"
            )
        return {"event_id": event_id, "outcome": outcome, "decision": decision["action"]}


def for_caller(view: dict[str, Any], store: Any, principal: Principal) -> dict[str, Any]:
    """A draft view as this caller may read it: suspected duplicates outside its scope are
    not named, and personal information is masked for roles that do not see it."""
    hidden = foreign_duplicates(store, principal.scope, principal.actor, view)
    view = without_events(view, hidden)
    return view if principal.reveals_personal else dict(mask_deep(view))
