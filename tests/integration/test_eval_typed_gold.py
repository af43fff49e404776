"""A golden set written in someone else's words: scored through a type map, by channel and
level; a row that fails to draft is counted, an unmapped type or a missing map is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.dispatch import Dispatcher
from evals.dispatch_eval import evaluate_dispatch
from evals.drafts import case_drafter
from evals.errors import DatasetError
from knowledge import Knowledge
from tests.conftest import offline_deps

ROWS = [
    {
        "id": "T1",
        "source": "hotline",
        "text": "市民来电反映：解放碑民权路人行道上一排流动摊贩卖水果，行人只能走机动车道。",
        "address": "渝中区解放碑街道民权路",
        "district": "渝中区",
        "gold": {
            "level": "street",
            "lead": "执法队",
            "assisting": ["市容部门"],
            "urgency": "normal",
            "article": {"title": "重庆市市容环境卫生管理条例", "article": "第十八条"},
        },
    },
    {
        "id": "T2",
        "source": "grid",
        "text": "【网格上报】南坪正街一处窨井盖缺失，已临时围挡，需尽快补装。",
        "address": "南岸区南坪街道南坪正街",
        "district": "南岸区",
        "gold": {"level": "district", "lead": "市容部门", "assisting": [], "urgency": "urgent"},
    },
]
TYPES = {"dataset": "t", "types": {"执法队": ["street_enforcement"], "市容部门": ["urban_mgmt"]}}


@pytest.fixture(scope="module")
def drafter(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[tuple[Any, Any]]:
    with offline_deps(
        tmp_path_factory.mktemp("typed"), prepared_data, knowledge, lambda: datetime.now(UTC)
    ) as deps:
        draft = case_drafter(Dispatcher(deps, None), "offline")
        index = deps.index

        def exists(title: str, article: str) -> bool:
            return index.get_article(title, article) is not None

        yield (lambda row: draft(row, str(row["text"]))), exists


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_typed_set_is_scored_through_the_type_map(
    tmp_path: Path, drafter: tuple[Any, Any], knowledge: Knowledge
) -> None:
    draft, exists = drafter
    data = write(tmp_path / "set.jsonl", ROWS)
    tmap = tmp_path / "map.yaml"
    tmap.write_text(json.dumps(TYPES, ensure_ascii=False), "utf-8")  # JSON is YAML
    result = evaluate_dispatch(
        data, knowledge, draft, tmp_path / "out", engine="offline", type_map=tmap, exists=exists
    )
    assert result["typed"] and result["failed"] == []
    lines = [
        json.loads(x)
        for x in (tmp_path / "out" / "predictions.jsonl").read_text("utf-8").split("\n")
        if x
    ]
    first = lines[0]
    # the score follows from the draft and the map, case by case
    assert first["score"]["lead_type"] == (first["draft"]["lead_type"] == "street_enforcement")
    assert first["score"]["level"] == (first["draft"]["level"] == "street")
    assert first["score"]["article_cited"] == (
        "《重庆市市容环境卫生管理条例》第十八条" in first["draft"]["articles"]
    )
    # offered: cited, or proposed beside the draft when its subtype is unsure
    assert first["score"]["article_offered"] == (
        "《重庆市市容环境卫生管理条例》第十八条"
        in first["draft"]["articles"] + first["draft"]["proposed"]
    )
    assert first["score"]["article_offered"] or not first["score"]["article_cited"]
    assert lines[1]["score"]["assist_recall"] is None  # no assisting expected
    assert lines[1]["score"]["article_cited"] is None  # no article expected
    overall = result["overall"]
    assert overall["cases"] == 2 and overall["drafted"] == 1.0
    assert overall["lead_type"] == sum(x["score"]["lead_type"] for x in lines) / 2
    # drafted alone: nothing for an officer to confirm; their rates over those drafts only
    alone = [x for x in lines if not x["draft"]["needs_human"]]
    assert [x["score"]["alone"] for x in lines] == [not x["draft"]["needs_human"] for x in lines]
    assert overall["alone"] == len(alone) / 2
    assert overall["alone_level"] == (
        round(sum(x["score"]["level"] for x in alone) / len(alone), 4) if alone else None
    )
    assert {"渠道:hotline", "渠道:grid", "层级:street", "层级:district"} <= set(result["by_tag"])


def test_a_row_that_fails_to_draft_is_counted_not_fatal(
    tmp_path: Path, drafter: tuple[Any, Any], knowledge: Knowledge
) -> None:
    draft, exists = drafter

    def flaky(row: dict[str, Any]) -> dict[str, Any]:
        if row["id"] == "T2":
            raise KeyError("no such street")
        result: dict[str, Any] = draft(row)
        return result

    tmap = tmp_path / "map.yaml"
    tmap.write_text(json.dumps(TYPES, ensure_ascii=False), "utf-8")
    result = evaluate_dispatch(
        write(tmp_path / "set.jsonl", ROWS),
        knowledge,
        flaky,
        tmp_path / "out",
        engine="offline",
        type_map=tmap,
        exists=exists,
    )
    assert result["failed"] == ["T2"]
    assert result["overall"]["drafted"] == 0.5
    assert result["by_tag"]["渠道:grid"]["all_right"] == 0.0


def test_unmapped_types_and_a_missing_map_are_refused(
    tmp_path: Path, drafter: tuple[Any, Any], knowledge: Knowledge
) -> None:
    draft, _ = drafter
    data = write(tmp_path / "set.jsonl", ROWS)
    with pytest.raises(DatasetError, match="--type-map"):
        evaluate_dispatch(data, knowledge, draft, tmp_path / "o", engine="offline")
    partial = tmp_path / "partial.yaml"
    partial.write_text("types:\n  执法队: [street_enforcement]\n", "utf-8")
    with pytest.raises(DatasetError, match="市容部门"):
        evaluate_dispatch(
            data, knowledge, draft, tmp_path / "o", engine="offline", type_map=partial
        )
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("types:\n  执法队: [no_such_type]\n  市容部门: [urban_mgmt]\n", "utf-8")
    with pytest.raises(DatasetError, match="no_such_type"):
        evaluate_dispatch(data, knowledge, draft, tmp_path / "o", engine="offline", type_map=wrong)
