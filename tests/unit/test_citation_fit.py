"""Scoring the drafts' cited articles against a second reader's verdicts."""

from __future__ import annotations

import pytest

from evals.citation_fit import cited, score
from knowledge import Knowledge


def test_cited_articles_are_scored_by_their_source_and_unread_ones_counted_apart(
    knowledge: Knowledge,
) -> None:
    st = next(s for s in knowledge.subtypes.values() if s.regulations)
    usual = st.regulations[0]
    draft = {
        "subtype": st.code,
        "articles": [
            f"《{usual.title}》{usual.article}",
            "《某某条例》第九条",
            "《某某条例》第十条",
        ],
    }
    text = str(draft)
    assert (
        cited(text)
        == cited(draft)
        == (
            st.code,
            [(usual.title, usual.article), ("某某条例", "第九条"), ("某某条例", "第十条")],
        )
    )
    readings = [
        {"event_id": "E1", "law": usual.title, "article": usual.article, "verdict": "applies"},
        {"event_id": "E1", "law": "某某条例", "article": "第九条", "verdict": "no"},
        {"event_id": "E2", "law": "某某条例", "article": "第一条", "verdict": "related"},
    ]
    predictions = [
        {"id": "E1", "draft": draft},
        {"id": "E3", "draft": draft},  # not read: left out
    ]
    out = score(knowledge, predictions, readings)
    assert out["events"] == 1
    assert out["all"]["read"] == 2 and out["all"]["unread"] == 1
    assert out["all"]["applies"] == pytest.approx(0.5) and out["all"]["no"] == pytest.approx(0.5)
    assert out["usual"]["applies"] == 1.0
    assert out["searched"] == {"read": 1, "unread": 1, "applies": 0.0, "related": 0.0, "no": 1.0}
