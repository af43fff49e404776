"""Policy-retrieval agent: the regulation articles that justify the disposal, with citations.

The subtype's usual articles are looked up exactly; the index is then searched with the event
itself, and its best hit from the same laws is added. A subtype that names no law gets no
searched citation: the draft says so and the officer chooses.

When the subtype is itself left to an officer (its calibrated confidence is below the
``needs_human`` line), its usual articles are cited only where the event's own words match
them (``MATCH_MIN``) and nothing is searched; the others are proposed (``proposed_citations``,
shown beside the draft, not in the order's legal basis) for the officer to pick once the
type is confirmed."""

from __future__ import annotations

import time
from typing import Any

from agents.deps import AgentDeps, audit
from agents.state import TriageContext, TriageState

#: articles found by searching the event's words, added to the subtype's usual ones. Read by
#: a second reader on 231 cited articles of 60 development events (independent sets 1 and 2):
#: the usual articles applied in 36 % and did not fit in 32 %; the first search hit applied
#: in 20 % and did not fit in 43 %, the later ones in 18 % / 46 %; and where the subtype names
#: no law, every search hit (20) was wrong. So one hit at most, and none without a law.
SEARCHED_MAX = 1

#: an unsure subtype's usual article is still cited when the event's text scores at least this
#: against it (BM25, the index's lexical scorer). Chosen on the same development readings: of
#: the usual articles cited for an event whose subtype was below the needs_human line, those
#: scoring under 8 did not fit in 73 % (37 read), those at 8 or more in 19 % (16); the
#: searched hit of an unsure subtype did not fit in 69 % (16). With this rule the readings
#: of sets 1+2 go from applies 33 % / no 34 % (173 read) to 44 % / 16 % (113), and the expected
#: article is cited in 102 of 263 events instead of 120.
MATCH_MIN = 8.0
#: how much of the event's text is scored against them (a long message says what it is about early)
MATCH_CHARS = 500


def retrieve_regulations(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k, index = deps.knowledge, deps.index
    st = k.subtype(state["classification"]["subtype"])
    citations: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    fallbacks = []
    usual: list[Any] = []
    for ref in st.regulations:
        unit = index.get_article(ref.title, ref.article)
        if unit is None:
            fallbacks.append(f"索引中没有《{ref.title}》{ref.article}，未引用")
            continue
        seen.add((unit.title, unit.article))
        usual.append(unit)
        citations.append(_cite(unit, "该类事件的常用依据"))
    laws = {ref.title for ref in st.regulations}
    query = f"{st.name} {state['text'][:120]}"
    room = min(SEARCHED_MAX, ctx.top_k - len(citations))
    proposed: list[dict[str, Any]] = []
    c = state["classification"]
    if citations and c["confidence"] < ctx.min_confidence and c.get("engine") != "llm":
        matched = index.lexical_match(state["text"][:MATCH_CHARS], usual)
        proposed = [x for x, s in zip(citations, matched, strict=True) if s < MATCH_MIN]
        citations = [x for x, s in zip(citations, matched, strict=True) if s >= MATCH_MIN]
        fallbacks.append(
            f"事件类型把握不足（{c['confidence']:.0%}）：常用依据中与事件内容不相符的"
            f"{len(proposed)}条列为候选、未引用，不再按检索补充；请确认类型后选用"
        )
        room = 0
    if not laws:
        fallbacks.append("该类事件没有常用法规：不按检索结果补充引用，请人工选择依据")
        room = 0
    # lexical only on the triage path: the subtype already names the laws, and a dense query
    # embedding costs more than the rest of the triage together on this machine
    for hit in index.search(query, k=ctx.top_k, mode="lexical") if room > 0 else []:
        u = hit.unit
        if (u.title, u.article) in seen or u.title not in laws:
            continue
        seen.add((u.title, u.article))
        citations.append(_cite(u, "按事件内容检索命中"))
        room -= 1
        if room == 0:
            break
    trace = audit(
        deps,
        event_id=state["event_id"],
        run_id=run_id,
        agent="policy",
        engine="offline",
        inputs={"subtype": st.code, "query": query},
        output={
            "citations": [f"《{x['title']}》{x['article']}" for x in citations],
            "proposed": [f"《{x['title']}》{x['article']}" for x in proposed],
        },
        started=started,
        fallbacks=fallbacks,
    )
    return {"citations": citations, "proposed_citations": proposed, "trace": [trace]}


def _cite(unit: Any, why: str) -> dict[str, Any]:
    return {
        "title": unit.title,
        "article": unit.article,
        "article_no": unit.article_no,
        "excerpt": unit.text[:160],
        "digest": unit.digest,
        "why": why,
    }
