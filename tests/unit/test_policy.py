"""The policy-retrieval agent's citations: a subtype's usual articles are cited, at most one
article found by searching the event's words (from the same laws) is offered beside them, and
nothing is searched for a subtype that names no law; for a subtype below the needs_human line,
only the usual articles the event's words match are cited. The built-in digests' index,
offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import policy
from agents.deps import AgentDeps
from agents.state import TriageContext
from knowledge import Knowledge
from tests.conftest import DEMO_NOW, offline_deps


@pytest.fixture(scope="module")
def deps(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[AgentDeps]:
    with offline_deps(
        tmp_path_factory.mktemp("policy"), prepared_data, knowledge, lambda: DEMO_NOW
    ) as d:
        yield d


def cite(deps: AgentDeps, subtype: str, text: str, confidence: float = 0.95) -> dict[str, Any]:
    state: Any = {
        "event_id": 0,
        "text": text,
        "classification": {"subtype": subtype, "confidence": confidence, "engine": "offline"},
    }
    return policy.retrieve_regulations(deps, state, TriageContext(engine="offline"), "t")


def test_usual_articles_cited_and_one_searched_hit_from_the_same_laws_offered(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    with_laws = [s for s in knowledge.subtypes.values() if s.regulations]
    assert with_laws
    hits = 0
    for st in with_laws[:12]:
        text = f"{st.examples[0] if st.examples else st.name}，请尽快处理"
        got = cite(deps, st.code, text)
        out = got["citations"]
        searched = [c for c in got["proposed_citations"] if c["why"].startswith("按事件内容")]
        # the order cites the usual articles only (a sub-case's when the report names it);
        # the search hit is offered beside it
        assert [(c["title"], c["article"]) for c in out] == [
            (r.title, r.article)
            for r in st.regulations
            if not r.when or any(w in text for w in r.when)
        ], st.code
        assert all(c["why"] == "该类事件的常用依据" for c in out)
        assert len(searched) <= policy.SEARCHED_MAX
        assert all(c["why"] == "按事件内容检索命中，供参考" for c in searched)
        laws = {r.title for r in st.regulations}
        assert all(c["title"] in laws for c in searched), st.code
        both = [(c["title"], c["article"]) for c in out + searched]
        assert len(set(both)) == len(both)
        hits += len(searched)
    assert hits, "the search should offer at least one article for some of these subtypes"


def test_a_subtype_naming_no_law_gets_no_searched_citation(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    lawless = [s for s in knowledge.subtypes.values() if not s.regulations]
    assert lawless, "every subtype names a law: nothing to test here"
    st = lawless[0]
    # words the digests do contain, so a search would have found something
    out = cite(deps, st.code, f"{st.name}：楼下烧烤油烟很大，占道经营，噪音扰民")
    assert out["citations"] == [] and out["proposed_citations"] == []
    assert any("不按检索结果补充引用" in f for f in out["trace"][0]["fallbacks"])


def test_an_unsure_subtype_cites_only_the_usual_articles_its_text_matches(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    line = TriageContext().min_confidence
    st = next(
        s
        for s in knowledge.subtypes.values()
        if len(s.regulations) >= 2 and not any(r.when for r in s.regulations)
    )
    usual = [(r.title, r.article) for r in st.regulations]
    unit = deps.index.get_article(*usual[0])
    assert unit is not None
    # the event repeats the first article's own words: it matches that article strongly
    text = unit.text[:200]
    sure = cite(deps, st.code, text)
    unsure = cite(deps, st.code, text, confidence=line - 0.2)
    scores = deps.index.lexical_match(text, [deps.index.get_article(*u) for u in usual])
    cited = [(c["title"], c["article"]) for c in unsure["citations"]]
    proposed = [(c["title"], c["article"]) for c in unsure["proposed_citations"]]
    assert scores[0] >= policy.MATCH_MIN
    assert cited == [u for u, x in zip(usual, scores, strict=True) if x >= policy.MATCH_MIN]
    assert proposed == [u for u, x in zip(usual, scores, strict=True) if x < policy.MATCH_MIN]
    assert all(c["why"] == "该类事件的常用依据" for c in unsure["citations"])  # nothing searched
    assert [(c["title"], c["article"]) for c in sure["citations"]][: len(usual)] == usual
    assert all(c["why"] == "按事件内容检索命中，供参考" for c in sure["proposed_citations"])
    assert any("事件类型把握不足" in f for f in unsure["trace"][0]["fallbacks"])


def test_an_unsure_subtype_whose_words_match_nothing_cites_nothing(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    st = next(s for s in knowledge.subtypes.values() if s.regulations)
    out = cite(deps, st.code, "请尽快处理一下谢谢", confidence=0.1)
    assert out["citations"] == []
    assert sorted((c["title"], c["article"]) for c in out["proposed_citations"]) == sorted(
        (r.title, r.article) for r in st.regulations
    )
    assert any(f"{len(st.regulations)}条列为候选" in f for f in out["trace"][0]["fallbacks"])


def test_a_sub_case_article_is_cited_only_when_the_report_names_its_case(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    pairs = [(s, r) for s in knowledge.subtypes.values() for r in s.regulations if r.when]
    assert pairs, "no usual article is marked as a sub-case's"
    for st, ref in pairs:
        text = st.examples[0] if st.examples else st.name
        named = any(w in text for w in ref.when)
        plain = text if not named else st.name
        if any(w in plain for w in ref.when):
            continue  # its name itself says the case
        without = cite(deps, st.code, plain)
        offered = {(c["title"], c["article"]): c["why"] for c in without["proposed_citations"]}
        assert (ref.title, ref.article) not in [
            (c["title"], c["article"]) for c in without["citations"]
        ], st.code
        assert "仅适用于特定情形" in offered[(ref.title, ref.article)], st.code
        with_word = cite(deps, st.code, f"{plain}，{ref.when[0]}")
        assert (ref.title, ref.article) in [
            (c["title"], c["article"]) for c in with_word["citations"]
        ], st.code
