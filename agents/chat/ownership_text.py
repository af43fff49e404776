"""The offline engine's words for an ownership answer (``agents.chat.ownership.Ownership``):
who leads, who assists, at which level and why, the duties, the articles and the deadline,
each with its source. Only formats; every fact is in the answer it is given."""

from __future__ import annotations

from agents.chat.ownership_model import ArticleLine, Ownership, OwnerUnit
from domain.vocabulary import Level

EXCERPT = 80


def _unit(u: OwnerUnit) -> str:
    return f"{u.name}（类型：{u.type_name}，{u.level_zh}）"


def _level_answer(o: Ownership) -> str:
    """The plain answer to 要不要上报区里 / 要不要提级."""
    if o.level is Level.STREET:
        return f"不需要上报区里。{o.level_reason}。"
    where = "市里" if o.level is Level.CITY else "区里"
    return f"需要上报{where}，由{o.level_zh}承办。{o.level_reason}。"


def render(o: Ownership, asks_level: bool) -> str:
    what = f"「{o.subtype_name}」（{o.category_name}）"
    lines: list[str] = []
    if o.event_id is not None:
        lines.append(f"事件 E{o.event_id} 是{what}，{o.place_note}；结论来自{o.decided_by}。")
    else:
        asked = what if o.subject == o.subtype_name else f"「{o.subject}」按{what}理解"
        lines.append(f"{asked}，{o.place_note}。")
    if o.confirm:
        others = "、".join(
            f"{a['name']}（{a['probability']:.0%}）"
            for a in o.alternatives
            if a.get("subtype") != o.subtype
        )
        lines.append(
            f"请注意：问题较短，归类把握只有 {o.confidence:.0%}"
            + (f"，也可能是：{others}" if others else "")
            + "。请确认事项类型，或说得更具体些（例如「小区楼下烧烤店油烟扰民归谁管」）。"
        )
    if asks_level:
        lines.append(_level_answer(o))
    lines.append(f"· 主办：{_unit(o.lead)}")
    lines.append("· 协办：" + ("；".join(_unit(a) for a in o.assisting) or "无"))
    lines.append(f"· 承办层级：{o.level_zh}。{o.level_reason}。")
    if o.could_escalate:
        lines.append("  具体事件如出现以下情形将按规则提级：" + "；".join(o.could_escalate) + "。")
    duties = [(u, d) for u in (o.lead, *o.assisting) for d in u.duties]
    if duties:
        lines.append("· 权责清单：" + "；".join(f"{d.id} {d.text}（{u.name}）" for u, d in duties))
    if o.articles:
        lines.append("· 法规依据（请以原文为准）：")
        lines += _article_lines(o.articles)
    elif o.proposed:
        lines.append("· 法规依据：暂不引用（见下方候选），按权责清单处理。")
    else:
        lines.append("· 法规依据：未检索到可引用的条文，按权责清单处理。")
    if o.proposed:
        lines.append("· 候选依据（未列入依据，供人工选用）：")
        lines += _article_lines(o.proposed)
    lines.append(
        f"· 办理时限：{o.urgency.zh}件，签收后 {o.response_hours:g} 小时内响应、"
        f"{o.disposal_hours:g} 小时内办结（{o.sla_basis}）。"
    )
    if o.needs_human:
        lines.append("· 需人工确认：" + "；".join(o.needs_human) + "。")
    lines.append("来源：" + "；".join(f"{k}——{v}" for k, v in o.sources.items()) + "。")
    return "\n".join(lines)


def _article_lines(articles: list[ArticleLine]) -> list[str]:
    out = []
    for a in articles:
        tail = f"（{a.why}）" if a.why else ""
        excerpt = f"：{a.excerpt[:EXCERPT]}" if a.excerpt else ""
        out.append(f"  {a.citation}{tail}{excerpt}")
    return out
