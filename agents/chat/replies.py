"""The offline engine of the chat assistant: the parsed question (``agents.chat.intents``)
is answered from tool results, every tool under the officer's scope. A dispatch is only
proposed; it is made when the officer confirms in the next turn, recorded like any approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from agents.chat import ownership as owners
from agents.chat.intents import DEVICES_STUCK, Intent
from agents.chat.ownership_model import Ownership
from agents.chat.ownership_text import render as render_ownership
from agents.chat.state import ChatContext, ChatState, Reply
from agents.chat.trace_text import render as render_trace
from agents.deps import AgentDeps
from agents.dispatch import for_caller
from agents.errors import NothingPending, NotTriageable
from agents.tracing import latest_water_alarm, trace_of_alarm
from domain.access import Principal
from domain.errors import OutOfScope
from domain.lifecycle import Status
from domain.models import Event, EventCreate, Scope
from store import Conflict, NotFound
from tools import duplicates, events, regulations
from tools.devices import DeviceQuery, device_statuses
from tools.pii import mask_text
from tools.scope import narrow, visible_event
from tools.tracing import hhmm

LIST_MAX = 10
HELP = (
    "我可以回答：某辖区今天/本周超时未办结或即将到期的事件；某街道某类事件的数量及与上期的比较；"
    "某类事件的清单；某件事件的情况、处理依据（法规条文）和相似事件；法规条文检索；"
    "某类事项或某件事件归谁管、要不要上报区里（按派单的定责和升级规则）；"
    "河流水质告警可能的污染源头（按河网向上游溯源）；"
    "为某件事件起草派单（需您确认后才派出）；哪些感知设备离线或数据异常。例如：「渝中区今天有哪些超时未办结的事件」、"
    "「解放碑街道本周噪音投诉多少件，比上周多还是少」、「帮我给事件 E123 起草派单」。"
)


class OfflineReplies:
    """One handler per intent kind (``_on_<kind>``); a question it cannot answer gets the help."""

    def __init__(self, deps: AgentDeps, dispatcher: Any) -> None:
        self.deps = deps
        self.dispatcher = dispatcher

    def answer(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        handler = getattr(self, f"_on_{intent.kind}", None)
        if handler is None:
            return Reply("抱歉，这个问题我还不能回答。" + HELP, intent=intent.kind or "unknown")
        try:
            reply: Reply = handler(intent, state, ctx)
        except OutOfScope as exc:
            reply = Reply(f"无法查询：{exc}")
        except NotFound as exc:
            reply = Reply(str(exc))
        reply.intent = intent.kind
        return reply

    # offline handlers, one per intent ------------------------------------------------------

    def _scope(self, ctx: ChatContext) -> Scope:
        return ctx.principal.scope

    def _place(self, intent: Intent, ctx: ChatContext) -> str:
        k = self.deps.knowledge
        code = intent.jurisdiction or ctx.principal.jurisdiction
        return k.jurisdiction(code).name

    def _lines(self, rows: list[events.EventSummary], extra: Any = None) -> str:
        k = self.deps.knowledge
        out = []
        for r in rows[:LIST_MAX]:
            where = k.jurisdictions[r.street].name if r.street in k.jurisdictions else "未定位"
            what = k.subtypes[r.subtype].name if r.subtype in k.subtypes else "未分类"
            lead = (
                k.departments[r.lead_department].name if r.lead_department in k.departments else ""
            )
            tail = extra(r) if extra else r.status_zh
            out.append(
                f"· 事件 E{r.id}｜{what}｜{where}｜{tail}" + (f"｜主办 {lead}" if lead else "")
            )
        if len(rows) > LIST_MAX:
            out.append(f"……另有 {len(rows) - LIST_MAX} 件，请在事件列表中查看。")
        return "\n".join(out)

    def _by_deadline(
        self, lister: Callable[..., list[events.EventSummary]], intent: Intent, ctx: ChatContext
    ) -> tuple[list[events.EventSummary], str]:
        """``events.list_overdue`` or ``list_due_soon`` for the question's place, and its name."""
        q = events.OverdueQuery(
            jurisdiction=intent.jurisdiction, as_of=self.deps.clock(), limit=200
        )
        rows = lister(self.deps.store, self.deps.knowledge, self._scope(ctx), q)
        return rows, self._place(intent, ctx)

    def _on_overdue(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        rows, place = self._by_deadline(events.list_overdue, intent, ctx)
        if not rows:
            return Reply(f"{place}目前没有超过办理时限未办结的事件。")
        text = f"{place}目前有 {len(rows)} 件超过办理时限未办结的事件（时限自签收起算），最早到期的在前：\n"
        text += self._lines(rows, lambda r: f"已超时 {_duration(r.hours_overdue or 0)}")
        return Reply(text, events=[r.id for r in rows[:LIST_MAX]])

    def _on_devices(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        """Which sensing devices are offline (or stuck) now, in the question's place."""
        k = self.deps.knowledge
        districts, streets = narrow(k, self._scope(ctx), intent.jurisdiction)
        place = self._place(intent, ctx)
        every = device_statuses(
            self.deps.store,
            k,
            self._scope(ctx),
            DeviceQuery(now=self.deps.clock(), district=districts[0] if districts else None),
        )
        if streets:
            every = [d for d in every if d.street in streets]
        if not every:
            return Reply(f"{place}没有登记的感知设备。")
        stuck = bool(DEVICES_STUCK.search(intent.query or ""))
        want = "stuck" if stuck else "silent"
        rows = [d for d in every if d.state == want]
        online = sum(d.state == "online" for d in every)
        rate = f"共登记 {len(every)} 台，在线 {online} 台，在线率 {online / len(every):.0%}"
        if not rows:
            what = "读数异常（长时间不变）" if stuck else "离线"
            return Reply(f"{place}目前没有{what}的感知设备（{rate}）。")
        what = "数据异常（读数长时间不变）" if stuck else "离线"
        lines = []
        for d in rows[:LIST_MAX]:
            street = k.jurisdictions[d.street].name if d.street in k.jurisdictions else ""
            minutes = d.minutes_silent or 0
            since = (
                "登记后从未上报"
                if d.last_seen is None
                else f"已 {minutes:.0f} 分钟无数据"
                if minutes < 60
                else f"已 {_duration(minutes / 60)}无数据"
            )
            state_text = since if want == "silent" else d.state_zh
            lines.append(
                f"· {d.name}（{d.id}，{d.kind_zh}）｜{street}｜{state_text}｜权属 {d.owner_name}"
            )
        if len(rows) > LIST_MAX:
            lines.append(f"……另有 {len(rows) - LIST_MAX} 台，请在控制台设备列表中查看。")
        return Reply(f"{place}目前有 {len(rows)} 台感知设备{what}（{rate}）：\n" + "\n".join(lines))

    def _on_due_soon(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        rows, place = self._by_deadline(events.list_due_soon, intent, ctx)
        if not rows:
            return Reply(f"{place}目前没有即将到期的事件。")
        now = self.deps.clock()
        text = f"{place}有 {len(rows)} 件事件即将到期（剩余不足时限的两成）：\n"
        text += self._lines(
            rows,
            lambda r: (
                f"剩余 {max((r.due_at - now).total_seconds() / 3600, 0):.1f} 小时"
                if r.due_at
                else r.status_zh
            ),
        )
        return Reply(text, events=[r.id for r in rows[:LIST_MAX]])

    def _search(
        self,
        intent: Intent,
        ctx: ChatContext,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> events.EventPage:
        """The events the question is about: its place, types, statuses and 督办 filter."""
        q = events.EventQuery(
            jurisdiction=intent.jurisdiction,
            subtype=list(intent.subtypes),
            category=list(intent.categories),
            status=[Status(s) for s in intent.statuses],
            supervised=intent.supervised or None,
            since=since,
            until=until,
            limit=limit,
        )
        return events.search_events(self.deps.store, self.deps.knowledge, self._scope(ctx), q)

    def _count(
        self, intent: Intent, ctx: ChatContext, since: datetime, until: datetime
    ) -> tuple[int, list[int]]:
        page = self._search(intent, ctx, since, until, limit=5)
        return page.total, [r.id for r in page.items]

    def _what(self, intent: Intent) -> str:
        k = self.deps.knowledge
        names = [k.subtypes[s].name for s in intent.subtypes if s in k.subtypes]
        names += [k.categories[c].name for c in intent.categories if c in k.categories]
        what = "、".join(names[:4]) + ("等" if len(names) > 4 else "") if names else "各类"
        states = "、".join(Status(s).zh for s in intent.statuses)
        return ("督办的" if intent.supervised else "") + (f"{states}的" if states else "") + what

    def _on_count(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        now = self.deps.clock()
        window = intent.window
        since = window.since if window else now.replace(hour=0, minute=0, second=0)
        until = window.until if window else now
        label = window.label if window else "今天"
        n, ids = self._count(intent, ctx, since, until)
        place, what = self._place(intent, ctx), self._what(intent)
        text = f"{place}{label}{what}事件共 {n} 件（按上报时间统计）"
        if intent.compare is not None:
            m, _ = self._count(intent, ctx, intent.compare.since, intent.compare.until)
            diff = n - m
            trend = f"多 {diff} 件" if diff > 0 else f"少 {-diff} 件" if diff < 0 else "持平"
            text += f"，{intent.compare.label} {m} 件，比{intent.compare.label}{trend}"
            if until > now and window is not None:
                text += f"（{label}尚未结束）"
        text += "。"
        if ids:
            text += "最近的几件：" + "、".join(f"E{i}" for i in ids) + "。"
        return Reply(text, events=ids)

    def _on_list(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        window = intent.window
        page = self._search(
            intent,
            ctx,
            window.since if window else None,
            window.until if window else None,
            limit=LIST_MAX,
        )
        label = intent.window.label if intent.window else ""
        head = f"{self._place(intent, ctx)}{label}{self._what(intent)}事件共 {page.total} 件"
        if not page.items:
            return Reply(head + "。")
        return Reply(
            head + "，最新的：\n" + self._lines(page.items), events=[r.id for r in page.items]
        )

    def _event(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Event:
        event_id = intent.event_id or state.get("focus_event")
        if not event_id:
            raise NotFound("请告诉我是哪一件事件（例如「事件 E123」），或在事件详情页旁打开助手。")
        p = ctx.principal
        return visible_event(self.deps.store, p.scope, p.actor, int(event_id))

    def _on_event(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        e = self._event(intent, state, ctx)
        k = self.deps.knowledge
        what = k.subtypes[e.subtype].name if e.subtype in k.subtypes else "尚未分类"
        where = k.jurisdictions[e.street].name if e.street in k.jurisdictions else "尚未定位"
        lead = (
            k.departments[e.lead_department].name
            if e.lead_department in k.departments
            else "尚未派单"
        )
        text = (
            f"事件 E{e.id}：{what}，{where}，当前状态「{e.status.zh}」，主办 {lead}"
            + (f"，办结时限 {e.due_at:%Y-%m-%d %H:%M}（UTC）" if e.due_at else "")
            + ("，已督办" if e.supervised else "")
            + f"。\n内容：{mask_text(e.text)[:200]}"
        )
        return Reply(text, events=[e.id], focus_event=e.id)

    def _draft_for(self, e: Event) -> dict[str, Any]:
        create = EventCreate.model_validate(e.model_dump(include=set(EventCreate.model_fields)))
        view: dict[str, Any] = self.dispatcher.draft(create, "offline")
        return view

    def _on_basis(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        e = self._event(intent, state, ctx)
        orders = self.deps.store.orders(e.id)
        if orders and orders[-1].legal_basis:
            cited = [c.model_dump() for c in orders[-1].legal_basis]
            head = f"事件 E{e.id} 的派单依据："
        else:
            draft = self._draft_for(e)
            cited = [
                {"title": c["title"], "article": c["article"], "excerpt": c["text"]}
                for c in draft["legal_basis"]
            ]
            head = f"事件 E{e.id} 尚未派单，按智能分拨的结果，处理依据是："
        if not cited:
            return Reply(
                f"事件 E{e.id} 没有找到可引用的法规条文，请按权责清单处理。", events=[e.id]
            )
        articles = [{**c, "citation": f"《{c['title']}》{c['article']}"} for c in cited]
        lines = [
            f"· 《{a['title']}》{a['article']}：{(a.get('excerpt') or '')[:120]}" for a in articles
        ]
        return Reply(
            head + "\n" + "\n".join(lines), events=[e.id], articles=articles, focus_event=e.id
        )

    def _on_regulation(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        hits = regulations.search_regulations(
            self.deps.index, regulations.RegulationQuery(question=intent.query or "规定", k=3)
        )
        if not hits:
            return Reply("没有检索到相关法规条文。")
        articles = [
            {"title": h.title, "article": h.article, "citation": h.citation, "excerpt": h.text}
            for h in hits
        ]
        lines = [f"· {h.citation}：{h.text[:150]}" for h in hits]
        return Reply("检索到的相关条文（请以原文为准）：\n" + "\n".join(lines), articles=articles)

    def pending_draft(self, event: Event, principal: Principal) -> dict[str, Any]:
        """The draft waiting for approval (drafted now if there is none), as this officer may
        read it. A return is taken into account: its draft excludes the returning unit. The
        model's ``propose_dispatch`` tool drafts with this too."""
        view = self.dispatcher.triage(event.id, by=principal.actor, engine="offline")
        return for_caller(view, self.deps.store, principal)

    def _on_draft(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        e = self._event(intent, state, ctx)
        try:
            draft = self.pending_draft(e, ctx.principal)
        except NotTriageable:
            lead = self.deps.knowledge.departments.get(e.lead_department or "")
            return Reply(
                f"事件 E{e.id} 已派出（当前状态「{e.status.zh}」"
                + (f"，主办 {lead.name}" if lead else "")
                + "），无需再起草派单。",
                events=[e.id],
                focus_event=e.id,
            )
        assist = "、".join(a["name"] for a in draft["assisting_departments"]) or "无"
        basis = (
            "、".join(f"《{c['title']}》{c['article']}" for c in draft["legal_basis"]) or "权责清单"
        )
        text = (
            f"事件 E{e.id} 的派单草稿：{draft['category']['category']}·{draft['category']['name']}"
            f"（把握 {draft['category']['confidence']:.0%}），主办 {draft['lead_department']['name']}，"
            f"协办 {assist}，{draft['level']} 级承办，签收后 {draft['deadlines']['disposal_hours']:g} 小时内办结。"
            f"依据 {basis}。"
        )
        if draft["reroute"]:
            text += "退单后重新分拨：" + "；".join(draft["reroute"]) + "。"
        if draft["needs_human"]:
            text += "请注意：" + "；".join(draft["needs_human"]) + "。"
        articles = [
            {**c, "citation": f"《{c['title']}》{c['article']}"} for c in draft["legal_basis"]
        ]
        if not ctx.principal.role.acts:
            return Reply(text, events=[e.id], articles=articles, focus_event=e.id)
        text += "\n回复「确认派单」即按此草稿派出；回复「取消」放弃。"
        proposal = {
            "action": "dispatch",
            "event_id": e.id,
            "approval_id": draft["approval"]["id"],
            "lead": draft["lead_department"],
        }
        return Reply(text, events=[e.id], articles=articles, focus_event=e.id, proposal=proposal)

    def _on_confirm(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        proposal = state.get("proposal")
        if not proposal:
            return Reply("当前没有等待您确认的操作。")
        if not ctx.principal.role.acts:
            return Reply("您的账号不能派单。", clear_proposal=True)
        event_id = int(proposal["event_id"])
        self._event(Intent(kind="event", event_id=event_id), state, ctx)  # scope, again
        try:
            result = self.dispatcher.decide(
                event_id,
                {"action": "approve"},
                by=ctx.principal.actor,
                approval_id=proposal.get("approval_id"),
            )
        except (Conflict, NothingPending) as exc:
            return Reply(f"未派单：{exc}", events=[event_id], clear_proposal=True)
        if result["outcome"] != "dispatched":
            return Reply(
                f"事件 E{event_id} 未能派出（{result['outcome']}），请在事件详情页查看。",
                events=[event_id],
                clear_proposal=True,
            )
        e = self.deps.store.get_event(event_id)
        lead = self.deps.knowledge.departments[e.lead_department or ""].name
        return Reply(
            f"已派单：事件 E{event_id} 派给 {lead}，当前状态「{e.status.zh}」。操作已记录在流转记录中。",
            events=[event_id],
            focus_event=event_id,
            clear_proposal=True,
        )

    def _on_cancel(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        if not state.get("proposal"):
            return Reply("当前没有等待确认的操作。")
        return Reply("好的，已取消，没有派单。", clear_proposal=True)

    def _on_similar(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        e = self._event(intent, state, ctx)
        q = duplicates.query_for(e, window_days=30, limit=LIST_MAX)
        found = duplicates.find_duplicates(
            self.deps.store, self.deps.knowledge, self._scope(ctx), q
        )
        if not found:
            return Reply(
                f"没有找到与事件 E{e.id} 相似的事件（前后 30 天、附近 500 米内）。",
                events=[e.id],
                focus_event=e.id,
            )
        lines = [
            f"· 事件 E{c.event.id}（相似度 {c.score:.2f}，{'；'.join(c.reasons)}）：{c.event.excerpt[:60]}"
            for c in found
        ]
        return Reply(
            f"与事件 E{e.id} 相似的事件有 {len(found)} 件：\n" + "\n".join(lines),
            events=[e.id, *(c.event.id for c in found)],
            focus_event=e.id,
        )

    def ownership(
        self, principal: Principal, subject: str, jurisdiction: str | None, event_id: int | None
    ) -> Ownership:
        """Who owns an event (by id, within the asker's scope) or a kind of matter at a place:
        the drafts' decisions. The model's ``ownership`` tool answers with this too."""
        if event_id is not None:
            e = visible_event(self.deps.store, principal.scope, principal.actor, event_id)
            return owners.for_event(self.deps, principal, e, self.dispatcher.pending)
        if not subject.strip():
            raise ValueError("请说明是哪类事项（subject），或给出事件编号（event_id）")
        return owners.for_subject(self.deps, principal, subject.strip(), jurisdiction)

    def _on_ownership(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        event_id = intent.event_id
        if event_id is None and (intent.refers or not intent.query):
            event_id = state.get("focus_event")
        if event_id is None and not intent.query:
            return Reply(
                "请告诉我是哪一件事件（例如「事件 E123 该派给谁」「E123 要不要上报区里」），"
                "或是哪类事项（例如「占道经营归谁管」）。"
            )
        k, p = self.deps.knowledge, ctx.principal
        try:
            o = self.ownership(p, intent.query, intent.jurisdiction, event_id)
        except OutOfScope:
            asked = k.jurisdiction(intent.jurisdiction or p.jurisdiction).name
            return Reply(
                f"抱歉，{asked}不在您的辖区（{k.jurisdiction(p.jurisdiction).name}）内，"
                "不能按该地回答归属问题。可以问本辖区的，例如「占道经营归谁管」。"
            )
        articles = [a.model_dump() for a in o.articles] + [
            {**a.model_dump(), "proposed": True} for a in o.proposed
        ]
        events = [o.event_id] if o.event_id is not None else []
        return Reply(
            render_ownership(o, intent.asks_level),
            events=events,
            articles=articles,
            focus_event=o.event_id,
        )

    def _on_help(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        return Reply(HELP)

    def _on_water_source(self, intent: Intent, state: ChatState, ctx: ChatContext) -> Reply:
        """The latest open water-quality alarm in the officer's scope (in the place named,
        if it has one there), traced upstream."""
        k, store, scope = self.deps.knowledge, self.deps.store, self._scope(ctx)
        places: list[tuple[list[str] | None, list[str] | None]] = [
            (None, None) if scope.everything else (list(scope.districts), list(scope.streets))
        ]
        if intent.jurisdiction:  # the place named first (綦江: the river crosses it)
            districts, streets = narrow(k, scope, intent.jurisdiction)
            places.insert(0, (districts or None, streets or None))
        alarm = latest_water_alarm(store, k, places)
        if alarm is None:
            return Reply("您的辖区目前没有河流水质监测站的告警，无需溯源。")
        _, trace, warning = trace_of_alarm(store, k, alarm)
        event_id = alarm["event_id"]
        text = render_trace(trace, warning, alarm_id=int(alarm["id"]))
        if alarm["cleared_at"] is not None:
            text = (
                f"目前没有未解除的水质告警，以下是最近一次（已于{hhmm(alarm['cleared_at'])}解除）：\n"
                + text
            )
        return Reply(
            text,
            events=[int(event_id)] if event_id is not None else [],
            focus_event=int(event_id) if event_id is not None else None,
        )


def _duration(hours: float) -> str:
    """Hours as an officer reads them: 5.5 小时, 3 天 4 小时."""
    if hours < 1:
        return "不足 1 小时"
    if hours < 48:
        return f"{hours:.1f} 小时".replace(".0 ", " ")
    days, rest = divmod(round(hours), 24)
    return f"{days} 天" + (f" {rest} 小时" if rest else "")
