"""Policy-retrieval agent: the regulation articles that justify the disposal, with citations.

The subtype's usual articles are looked up exactly; the index is then searched with the event
itself, and its best hit from the same laws is added. A subtype that names no law gets no
searched citation: the draft says so and the officer chooses."""

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


def retrieve_regulations(
    deps: AgentDeps, state: TriageState, ctx: TriageContext, run_id: str
) -> dict[str, Any]:
    started = time.perf_counter()
    k, index = deps.knowledge, deps.index
    st = k.subtype(state["classification"]["subtype"])
    citations: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    fallbacks = []
    for ref in st.regulations:
        unit = index.get_article(ref.title, ref.article)
        if unit is None:
            fallbacks.append(f"索引中没有《{ref.title}》{ref.article}，未引用")
            continue
        seen.add((unit.title, unit.article))
        citations.append(_cite(unit, "该类事件的常用依据"))
    laws = {ref.title for ref in st.regulations}
    query = f"{st.name} {state['text'][:120]}"
    room = min(SEARCHED_MAX, ctx.top_k - len(citations))
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
        output={"citations": [f"《{c['title']}》{c['article']}" for c in citations]},
        started=started,
        fallbacks=fallbacks,
    )
    return {"citations": citations, "trace": [trace]}


def _cite(unit: Any, why: str) -> dict[str, Any]:
    return {
        "title": unit.title,
        "article": unit.article,
        "article_no": unit.article_no,
        "excerpt": unit.text[:160],
        "digest": unit.digest,
        "why": why,
    }
