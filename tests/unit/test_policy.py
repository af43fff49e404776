"""The policy-retrieval agent's citations: a subtype's usual articles, at most one article found
by searching the event's words (from the same laws), and none by search for a subtype that
names no law. The built-in digests' index, offline."""

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


def cite(deps: AgentDeps, subtype: str, text: str) -> dict[str, Any]:
    state: Any = {"event_id": 0, "text": text, "classification": {"subtype": subtype}}
    return policy.retrieve_regulations(deps, state, TriageContext(engine="offline"), "t")


def test_usual_articles_and_one_searched_hit_from_the_same_laws(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    with_laws = [s for s in knowledge.subtypes.values() if s.regulations]
    assert with_laws
    for st in with_laws[:12]:
        text = f"{st.examples[0] if st.examples else st.name}，请尽快处理"
        out = cite(deps, st.code, text)["citations"]
        usual = [c for c in out if c["why"] == "该类事件的常用依据"]
        searched = [c for c in out if c["why"] == "按事件内容检索命中"]
        assert [(c["title"], c["article"]) for c in usual] == [
            (r.title, r.article) for r in st.regulations
        ], st.code
        assert len(searched) <= policy.SEARCHED_MAX
        laws = {r.title for r in st.regulations}
        assert all(c["title"] in laws for c in searched), st.code
        assert len({(c["title"], c["article"]) for c in out}) == len(out)


def test_a_subtype_naming_no_law_gets_no_searched_citation(
    deps: AgentDeps, knowledge: Knowledge
) -> None:
    lawless = [s for s in knowledge.subtypes.values() if not s.regulations]
    assert lawless, "every subtype names a law: nothing to test here"
    st = lawless[0]
    # words the digests do contain, so a search would have found something
    out = cite(deps, st.code, f"{st.name}：楼下烧烤油烟很大，占道经营，噪音扰民")
    assert out["citations"] == []
    assert any("不按检索结果补充引用" in f for f in out["trace"][0]["fallbacks"])
