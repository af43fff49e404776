"""The regulation re-ranker: question intents, feature rows, fitting and the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.lawtext import Article
from knowledge.retrieval.corpus import paragraphs, passage
from knowledge.retrieval.rerank import (
    FEATURES,
    RERANKER_FILE,
    ArticleFlags,
    Reranker,
    features,
    intents,
)


def _article(text: str, chapter: str = "第二章 管理", region: str = "重庆", no: int = 1) -> Article:
    return Article(
        title="重庆市示例条例",
        article=f"第{no}条",
        article_no=no,
        article_sub=0,
        text=text,
        level="地方性法规",
        region=region,
        chapter=chapter,
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("遛狗不捡狗屎罚好多", {"penalty"}),
        ("河里死猪哪个来捞", {"authority"}),
        ("工地死了人多久要上报", {"deadline"}),
        ("燃气表后面的管子坏了哪个负责修，多久来", {"authority", "deadline"}),
        ("电梯关人了", set()),
    ],
)
def test_intents_are_read_from_the_way_officers_ask(question: str, expected: set[str]) -> None:
    assert intents(question) == expected


def test_passage_drops_the_boilerplate_and_the_long_title() -> None:
    a = Article(
        title="中华人民共和国噪声污染防治法",
        article="第七十九条",
        article_no=79,
        article_sub=0,
        text="违反本法规定，驾驶拆除或者损坏消声器的机动车轰鸣、疾驶的，由公安机关交通管理部门处罚。",
        level="法律",
        region="全国",
        chapter="第八章 法律责任",
    )
    text = passage(a)
    assert text.startswith("噪声污染防治法 法律责任：驾驶拆除")
    assert "违反本法规定" not in text and len(text) <= 128


def test_paragraphs_keep_the_opening_words_before_each_item() -> None:
    a = _article(
        "道路上禁止下列行为：\n（一）设置摊点；\n（二）晾晒物品。\n违反前款规定的，处罚款。"
    )
    parts = paragraphs(a)
    assert parts[0] == "道路上禁止下列行为："
    assert parts[1] == "道路上禁止下列行为： （一）设置摊点；"
    assert len(parts) == 4


def test_feature_rows_follow_the_named_columns() -> None:
    units = [
        _article("饲养宠物应当及时清除粪便。", no=1),
        _article("违反第一条规定的，处五十元罚款。", chapter="第五章 法律责任", no=2),
        _article("市容主管部门负责本条例的实施。", chapter="第一章 总则", region="全国", no=3),
    ]
    flags = ArticleFlags.of(units)
    assert flags.penalty.tolist() == [False, True, False]
    assert flags.duty.tolist() == [False, False, True]
    cand = np.array([1, 0, 2])
    rows = features(
        "遛狗不捡屎罚好多",
        cand,
        lexical=np.array([4.0, 2.0, 0.0]),
        paragraph=np.array([4.0, 1.0, 0.0]),
        chapter=np.array([0.0, 1.0, 0.0]),
        dense=np.array([0.9, np.nan, 0.5]),
        dense_rank=np.array([1.0, 101.0, 2.0]),
        law=np.array([0, 0, 0]),
        flags=flags,
    )
    col = {name: rows[:, n] for n, name in enumerate(FEATURES)}
    assert rows.shape == (3, len(FEATURES))
    assert col["lexical"].tolist() == [0.5, 1.0, 0.0]
    assert col["asks_penalty"].tolist() == [1.0, 0.0, 0.0]  # only the article that fines
    assert col["liability_unasked"].tolist() == [0.0, 0.0, 0.0]  # a fine was asked
    assert col["chongqing"].tolist() == [1.0, 1.0, 0.0]
    # an article the dense ranking did not reach counts as the least similar seen
    assert col["dense_in_law"].tolist() == pytest.approx([0.5 - 0.9, 0.0, 0.5 - 0.9])
    assert col["dense_rank"][0] == pytest.approx(60 / 161)


def test_a_fitted_model_round_trips_and_ranks_what_it_learned(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rows, labels = [], []
    for _ in range(40):  # the answer has the best lexical and dense ranks, with noise
        x = rng.normal(size=(10, len(FEATURES)))
        x[0, 1] += 3
        x[0, 2] += 3
        rows.append(x)
        labels.append(np.arange(10) == 0)
    model = Reranker.fit(rows, labels, trained_on="synthetic")
    path = tmp_path / "reranker.json"
    path.write_text(model.to_json(), encoding="utf-8")
    again = Reranker.load(path)
    assert again is not None and again.trained_on == "synthetic"
    probe = rng.normal(size=(10, len(FEATURES)))
    probe[3, 1] += 3
    probe[3, 2] += 3
    assert np.allclose(again.score(probe), model.score(probe), atol=1e-4)
    assert int(np.argmax(again.score(probe))) == 3
    parts = again.contributions(probe[3])
    assert set(parts) == set(FEATURES) and parts["dense_rank"] > 0


def test_a_model_fitted_on_other_features_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {"features": ["lexical"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}
        ),
        encoding="utf-8",
    )
    assert Reranker.load(path) is None
    assert Reranker.load(tmp_path / "missing.json") is None


def test_the_shipped_configuration_was_validated_across_styles() -> None:
    from knowledge.retrieval.rerank import read_config

    assert Reranker.problem(RERANKER_FILE) is None, (
        "knowledge/data/reranker.json is missing or stale: run evals.fit_reranker"
    )
    data = read_config(RERANKER_FILE)
    assert data["trained_on"] == "retrieval-dev.jsonl+retrieval-styles-dev.jsonl"
    rotations = data["validation"]["rotations"]
    assert {r["held_out"] for r in rotations} == {"officer", "layperson", "grid"}
    unseen = [
        f"{r['held_out']} 的 {m}"
        for r in rotations
        for m in ("recall@5", "mrr")
        if r["figures"]["blend"][m] < r["figures"]["rrf"][m]
    ]
    model = Reranker.load(RERANKER_FILE)
    if data["method"] == "rrf":  # the guard refused the weights: fusion alone, with the reason
        assert model is None and data["reason"]
    else:  # weights ship only when no trained style's held-out questions ranked below fusion
        checks = data["validation"]["checks"]
        assert {key.split(":")[1] for key in checks} == {"officer", "layperson", "grid"}
        for figures in checks.values():
            for m in ("recall@5", "mrr"):
                assert figures["blend"][m] >= figures["rrf"][m]
        # a style never trained on that lost is kept as a warning, and only then
        assert data["validation"].get("unseen_style_warnings", []) == unseen
        assert model is not None and 0 < model.blend <= 1
        assert np.all(np.isfinite(model.coef)) and len(model.coef) == len(FEATURES)


def test_explanations_name_the_strongest_signals_only() -> None:
    from knowledge.retrieval.rerank import SIGNAL_ZH, explain

    assert set(SIGNAL_ZH) == set(FEATURES)
    parts = dict.fromkeys(FEATURES, 0.0) | {"dense_rank": 1.2, "asks_penalty": 0.5, "length": 0.1}
    assert explain(parts) == ["语义检索排名靠前", "问的是处罚，本条设定了处罚"]
    assert explain(dict.fromkeys(FEATURES, -1.0)) == []


def test_a_missing_broken_or_stale_model_fails_the_doctor(tmp_path: Path) -> None:
    from cli.doctor import _reranker

    assert Reranker.problem(RERANKER_FILE) is None
    shipped = _reranker()
    assert shipped.status == "ok" and (
        "retrieval-dev.jsonl" in shipped.detail or "rrf" in shipped.detail
    )
    missing = _reranker(tmp_path / "reranker.json")
    assert missing.status == "fail" and "缺少重排模型文件" in missing.detail
    broken = tmp_path / "broken.json"
    broken.write_text('{"features": [', encoding="utf-8")
    assert _reranker(broken).status == "fail" and "无法读取" in _reranker(broken).detail
    stale = tmp_path / "stale.json"
    stale.write_text(
        json.dumps(
            {"features": ["lexical"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}
        ),
        encoding="utf-8",
    )
    assert _reranker(stale).status == "fail" and "特征与当前代码不一致" in _reranker(stale).detail
