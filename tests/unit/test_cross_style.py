"""Cross-style validation of the re-ranker: the style split, the rotations, the worst-style
choice of the blend weight, and the guard that ships plain fusion when the re-ranker loses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from evals import cross_style as cs
from evals.fit_reranker import ship
from evals.retrieval import Question, load_dataset
from knowledge.retrieval.fusion import Candidates
from knowledge.retrieval.rerank import FEATURES, Reranker

DATASETS = Path(__file__).parents[2] / "evals" / "datasets"


def _item(style: str, answer: int, n: int = 6) -> cs.Item:
    """``n`` candidates in fused order (best first); the one at ``answer`` answers."""
    cand = Candidates(
        ids=np.arange(n),
        rows=np.zeros((n, len(FEATURES))),
        fused=1.0 / (61.0 + np.arange(n)),
        lexical={},
        dense={},
    )
    q = Question(id=f"{style}{answer}", question="?", answers={("法", "第一条")}, style=style)
    return cs.Item(q, cand, np.arange(n) == answer)


def _toward(target: int, n: int = 6) -> np.ndarray:
    """Model scores that put ``target`` first and leave the rest in fused order."""
    scores = -np.arange(n, dtype=float) * 0.1
    scores[target] = 5.0
    return scores


def test_the_committed_style_sets_are_the_seeded_halves_and_do_not_overlap() -> None:
    dev = load_dataset(DATASETS / "retrieval-styles-dev.jsonl")
    test = load_dataset(DATASETS / "retrieval-styles-test.jsonl")
    assert {q.style for q in dev} == {q.style for q in test} == {"layperson", "grid"}
    assert not {q.id for q in dev} & {q.id for q in test}
    assert not {q.question for q in dev} & {q.question for q in test}
    for style in ("layperson", "grid"):
        written = sorted(
            (q.id for q in dev + test if q.style == style), key=lambda i: int(re.sub(r"\D", "", i))
        )
        assert len(written) >= 80, f"{style}: at least 80 questions"
        want_dev, want_test = cs.halves(written)
        assert sorted(q.id for q in dev if q.style == style) == sorted(want_dev)
        assert sorted(q.id for q in test if q.style == style) == sorted(want_test)
    # the existing sets carry no style and count as officers' questions
    assert {q.style for q in load_dataset(DATASETS / "retrieval-dev.jsonl")} == {"officer"}


def test_halves_are_fixed_by_the_seed() -> None:
    ids = [f"Q{n}" for n in range(21)]
    dev, test = cs.halves(ids)
    assert (dev, test) == cs.halves(ids) and len(dev) == 10 and len(test) == 11
    assert sorted(dev + test) == sorted(ids)
    assert cs.halves(ids, seed=1) != (dev, test)


def test_each_style_is_held_out_once_and_fitted_on_the_others() -> None:
    rots = cs.rotations(["officer", "grid", "layperson", "grid"])
    assert rots == [
        ("grid", ("layperson", "officer")),
        ("layperson", ("grid", "officer")),
        ("officer", ("grid", "layperson")),
    ]


def test_the_blend_never_lets_a_style_rank_below_fusion() -> None:
    # officers: the answer sits third in the fused order and the model lifts it to first;
    # residents: fusion already has it first and the model prefers a wrong article
    items = [_item("officer", 2) for _ in range(4)] + [_item("layperson", 0) for _ in range(4)]
    scores = [_toward(2)] * 4 + [_toward(3)] * 4
    blend, tried = cs.choose_blend(items, scores)
    rrf = tried["0.0"]
    assert tried["1.0"]["layperson"]["mrr"] < rrf["layperson"]["mrr"]  # the model alone loses
    chosen = tried[str(blend)]
    assert 0 < blend < 1
    assert chosen["layperson"]["mrr"] == rrf["layperson"]["mrr"]
    assert chosen["officer"]["mrr"] > rrf["officer"]["mrr"]


def test_a_model_that_only_hurts_gets_weight_zero() -> None:
    items = [_item("officer", 0), _item("grid", 0)]
    blend, _ = cs.choose_blend(items, [_toward(4), _toward(5)])
    assert blend == 0.0


def test_blended_order_matches_the_shipped_rank_scores() -> None:
    rng = np.random.default_rng(3)
    rows, labels = [rng.normal(size=(8, len(FEATURES))) for _ in range(6)], []
    for r in rows:
        r[0, 2] += 3
        labels.append(np.arange(8) == 0)
    model = Reranker.fit(rows, labels, weights=[1, 1, 1, 2, 2, 2]).with_blend(0.4)
    fused = np.linspace(0.02, 0.01, 8)
    assert np.allclose(
        model.rank_scores(rows[0], fused), cs.blended(model.score(rows[0]), fused, 0.4)
    )
    assert model.rank_scores(rows[0][:0], fused[:0]).shape == (0,)


def _rotation(held: str, rrf: tuple[float, float], blend: tuple[float, float]) -> cs.Rotation:
    def figures(r5: float, mrr: float) -> dict[str, float]:
        return {"recall@1": 0.5, "recall@5": r5, "recall@10": 0.9, "mrr": mrr}

    return cs.Rotation(
        held, ("officer",), 0.5, 10, {"rrf": figures(*rrf), "blend": figures(*blend)}
    )


def _check(rrf: tuple[float, float], blend: tuple[float, float]) -> dict[str, dict[str, float]]:
    return _rotation("x", rrf, blend).figures


def test_the_guard_refuses_weights_that_lose_to_fusion_and_ships_fusion(tmp_path: Path) -> None:
    from cli.doctor import _reranker

    model = Reranker.fit(
        [np.eye(4, len(FEATURES))] * 3, [np.arange(4) == 0] * 3, trained_on="x.jsonl"
    ).with_blend(0.5)
    out = tmp_path / "reranker.json"
    checks = {
        "test.jsonl:grid": _check((0.8, 0.6), (0.8, 0.65)),
        "test.jsonl:layperson": _check((0.8, 0.6), (0.7, 0.61)),
    }
    with pytest.raises(SystemExit) as refused:
        ship(out, model, [], {"trained_on": "x.jsonl", "checks": checks})
    assert refused.value.code != 0 and "拒绝写入重排权重" in str(refused.value.code)
    assert "test.jsonl:layperson 的 recall@5" in str(refused.value.code)
    assert "grid" not in str(refused.value.code)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["method"] == "rrf" and "coef" not in written
    # the index then ranks by fusion alone, and the doctor says so without failing
    assert Reranker.load(out) is None and Reranker.problem(out) is None
    check = _reranker(out)
    assert check.status == "ok" and "method: rrf" in check.detail


def test_a_losing_unseen_style_is_a_recorded_warning_not_a_veto(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Reranker.fit(
        [np.eye(4, len(FEATURES))] * 3, [np.arange(4) == 0] * 3, trained_on="x.jsonl"
    ).with_blend(0.5)
    out = tmp_path / "reranker.json"
    rots = [
        _rotation("grid", (0.8, 0.6), (0.8, 0.65)),
        _rotation("layperson", (0.8, 0.6), (0.7, 0.61)),
    ]
    assert rots[0].below_rrf == [] and rots[1].below_rrf == ["recall@5"]
    checks = {"test.jsonl:layperson": _check((0.8, 0.6), (0.82, 0.6))}
    ship(out, model, rots, {"trained_on": "x.jsonl", "checks": checks})
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["validation"]["unseen_style_warnings"] == ["layperson 的 recall@5"]
    assert "layperson 的 recall@5" in capsys.readouterr().out
    again = Reranker.load(out)
    assert again is not None and again.blend == 0.5


def test_weights_are_written_when_no_style_loses(tmp_path: Path) -> None:
    model = Reranker.fit(
        [np.eye(4, len(FEATURES))] * 3, [np.arange(4) == 0] * 3, trained_on="x.jsonl"
    ).with_blend(0.6)
    out = tmp_path / "reranker.json"
    ship(out, model, [_rotation("grid", (0.8, 0.6), (0.8, 0.6))], {"blend": 0.6})
    again = Reranker.load(out)
    assert again is not None and again.blend == 0.6 and again.trained_on == "x.jsonl"
    assert json.loads(out.read_text(encoding="utf-8"))["validation"] == {"blend": 0.6}
    # a weight of zero is fusion alone: shipped as such, not as a model that does nothing
    ship(out, model.with_blend(0.0), [], {})
    assert Reranker.load(out) is None and json.loads(out.read_text())["method"] == "rrf"


def test_an_unknown_method_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"method": "magic"}), encoding="utf-8")
    assert Reranker.load(path) is None
    assert "未知" in (Reranker.problem(path) or "")
