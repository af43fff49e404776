"""Period review (周/月复盘): the facts from ``tools.period`` and a narrative about them.

The offline engine writes the narrative from zh-CN templates, the LLM engine asks the model to
write it from the facts only; the check refuses a narrative with a number that is not in the
facts, and the template stands in."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pydantic import BaseModel, Field

from agents.deps import AgentDeps, audit
from agents.llm import Usage
from domain.models import Scope
from prompts import load
from tools.period import PeriodReview, period_review
from tools.periods import PeriodQuery
from tools.pii import mask_deep

NUMBER = re.compile(r"\d+(?:\.\d+)?")


class PeriodReport(BaseModel):
    facts: PeriodReview
    narrative: str = Field(description="复盘综述（中文）")
    engine: str = Field(description="offline 或 llm")
    fallbacks: list[str] = []


class Narrative(BaseModel):
    narrative: str = Field(min_length=20, max_length=1500)


def model_facts(review: PeriodReview) -> dict[str, Any]:
    """What the model is given (and what its numbers are checked against): the review with its
    longer lists cut to what a narrative can mention, and personal information (in the cases'
    titles, citizens' words) masked: the model has no need of it."""
    facts = review.model_dump(mode="json", exclude={"as_of"})
    facts["period"] = {
        key: facts["period"][key] for key in ("label", "first_day", "last_day", "previous_label")
    }
    facts["by_category"] = facts["by_category"][:8]
    facts["by_area"] = facts["by_area"][:10]
    facts["departments"] = facts["departments"][:8]
    facts["hot_spots"] = [
        {k: v for k, v in h.items() if k != "event_ids"} for h in facts["hot_spots"][:5]
    ]
    masked: dict[str, Any] = mask_deep(facts)
    return masked


def _numbers(value: Any, into: set[float]) -> set[float]:
    """Every number in ``value``: numeric values (and their magnitudes), and the digits in
    strings and keys (dates, labels, event numbers)."""
    if isinstance(value, bool) or value is None:
        return into
    if isinstance(value, int | float):
        into.add(abs(float(value)))
    elif isinstance(value, str):
        into.update(float(n) for n in NUMBER.findall(value))
    elif isinstance(value, dict):
        for key, v in value.items():
            _numbers(key, into)
            _numbers(v, into)
    elif isinstance(value, list | tuple):
        for v in value:
            _numbers(v, into)
    return into


def unknown_numbers(text: str, facts: dict[str, Any]) -> list[str]:
    """The numbers written in ``text`` that appear nowhere in ``facts``."""
    known = _numbers(facts, set())
    return sorted({n for n in NUMBER.findall(text) if float(n) not in known})


def _signed(change: int, unit: str = "件") -> str:
    if change > 0:
        return f"增加{change}{unit}"
    if change < 0:
        return f"减少{-change}{unit}"
    return "持平"


def _pct(value: float | None) -> str:
    return f"{value}%" if value is not None else "—"


def template_narrative(r: PeriodReview) -> str:
    """The offline narrative: every number in it is a number of the facts."""
    p = r.period
    parts = [
        f"{r.jurisdiction_name}{p.label}（{p.first_day}至{p.last_day}）共受理事件{r.count}件，"
        f"较上期（{p.previous_label}）{_signed(r.change)}"
        + (f"（{abs(r.change_pct)}%）" if r.change_pct is not None and r.change else "")
        + f"；已办结{r.resolved}件，未办结{r.open}件。"
    ]
    if r.count == 0:
        return parts[0] + "本期没有可供复盘的事件。"
    timing = (
        f"按时办结率{_pct(r.on_time_pct)}（时限自签收起算，{r.timed}件中{r.on_time}件按时）"
        if r.timed
        else "本期尚无计时办结的事件"
    )
    if r.median_hours_to_close is not None:
        timing += f"，办结用时中位数{r.median_hours_to_close}小时"
        if r.previous_median_hours_to_close is not None:
            timing += f"（上期{r.previous_median_hours_to_close}小时）"
    if r.overdue_open:
        timing += f"；仍有{r.overdue_open}件超时未办结，建议督办"
    parts.append(timing + "。")
    if r.by_category:
        top = "、".join(f"{t.name}{t.count}件" for t in r.by_category[:3] if t.count)
        rising = max(r.by_category, key=lambda t: t.change)
        line = f"事件较多的大类：{top}"
        if rising.change > 0:
            line += f"；{rising.name}较上期{_signed(rising.change)}，增幅最大"
        parts.append(line + "。")
    if r.by_area:
        where = "街道" if r.area_level == "street" else "区县"
        top = "、".join(f"{t.name}{t.count}件" for t in r.by_area[:3] if t.count)
        if top:
            parts.append(f"事件较多的{where}：{top}。")
    returned = [d for d in r.departments if d.returned]
    if returned:
        d = returned[0]
        line = (
            f"派出事件退单率{_pct(r.return_pct)}；退单最多的是{d.name}"
            f"（{d.dispatched}件中退回{d.returned}件，退单率{d.return_pct}%）"
        )
        if d.reasons:
            line += "，主要原因：" + "、".join(f"{x.name}{x.count}件" for x in d.reasons)
        parts.append(line + "，建议厘清权责清单并用改派结果训练分拨。")
    elif r.departments:
        parts.append("本期派出的事件没有退单。")
    for h in r.hot_spots[:3]:
        parts.append(
            f"重复诉求热点：{h.place or h.street_name}的「{h.subtype_name}」本期{h.count}件，"
            "建议源头治理。"
        )
    s = r.satisfaction
    if s.count:
        line = f"回访{s.count}件，平均满意度{s.mean}分"
        if s.low:
            line += f"，其中1-2分{s.low}件"
        parts.append(line + "。")
    if r.cases:
        parts.append(
            "值得讨论的事件："
            + "；".join(
                f"事件{c.event_id}（{c.street_name}，{c.subtype_name}）{'、'.join(c.why)}"
                for c in r.cases
            )
            + "。"
        )
    return "\n".join(parts)


def review_period(
    deps: AgentDeps, scope: Scope, q: PeriodQuery, *, engine: str = "offline"
) -> PeriodReport:
    """The period review of the caller's scope: facts, and the narrative by ``engine``."""
    started = time.perf_counter()
    facts = period_review(deps.store, deps.knowledge, scope, q, now=deps.clock())
    narrative, used, prompt, usage = template_narrative(facts), "offline", None, Usage()
    fallbacks: list[str] = []
    if engine == "llm" and deps.llm is None:
        fallbacks.append("未配置大模型，使用模板撰写")
    elif engine == "llm" and deps.llm is not None:
        prompt = load("review.period")
        given = model_facts(facts)

        def check(n: Narrative) -> list[str]:
            unknown = unknown_numbers(n.narrative, given)
            return [f"出现了事实中没有的数字：{'、'.join(unknown)}"] if unknown else []

        written = deps.llm.ask_or_fall_back(
            prompt,
            Narrative,
            usage,
            fallbacks,
            "大模型撰写时段复盘失败，使用模板",
            check=check,
            facts=json.dumps(given, ensure_ascii=False, indent=1),
        )
        if written is not None:
            narrative, used = written.narrative, "llm"
    audit(
        deps,
        event_id=None,
        run_id=f"period-{facts.jurisdiction or 'scope'}-{facts.period.label}",
        agent="review_period",
        engine=used,
        inputs=q.model_dump(mode="json"),
        output={"narrative": narrative},
        started=started,
        fallbacks=fallbacks,
        prompt=prompt,
        usage=usage,
    )
    return PeriodReport(facts=facts, narrative=narrative, engine=used, fallbacks=fallbacks)
