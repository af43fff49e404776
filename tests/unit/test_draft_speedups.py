"""The faster ways of the drafting path give exactly what the plain ways give: the classifier
scoring a batch, place names searched only where their opening occurs, claimed keyword lists
read by substring, and duplicate similarities from memoised stored rows."""

import json
from pathlib import Path

import numpy as np
import pytest

from agents.classifier import SubtypeClassifier, ensure_classifier
from demo.generator import generate_events
from knowledge import Knowledge
from tests.conftest import DEMO_NOW
from tools import claims, duplicates, locate
from tools.pii import mask_names
from tools.placenames import grouped

GOLDEN = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "golden-dispatch.jsonl"


@pytest.fixture(scope="module")
def texts(knowledge: Knowledge) -> list[str]:
    rows = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line]
    golden = [(r.get("address") or "") + r["text"] for r in rows]
    demo = [
        (e.create.title or "") + e.create.text
        for e in generate_events(knowledge, seed=11, now=DEMO_NOW, count=200)
    ]
    return golden + demo


@pytest.fixture(scope="module")
def classifier(knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> SubtypeClassifier:
    return ensure_classifier(knowledge, tmp_path_factory.mktemp("models"))


def test_a_batch_is_classified_as_each_text_alone(
    classifier: SubtypeClassifier, texts: list[str]
) -> None:
    sample = texts[:150]
    assert classifier.predict_many(sample, top=5) == [classifier.predict(t, top=5) for t in sample]
    assert classifier.predict_many([]) == []


def test_primed_predictions_are_answered_inside_the_block_only(
    classifier: SubtypeClassifier, texts: list[str]
) -> None:
    sample = texts[:20]
    alone = [classifier.predict(t, top=5) for t in sample]
    with classifier.primed([*sample, sample[0]], top=5):
        assert len(classifier._primed) == len(sample)
        assert [classifier.predict(t, top=5) for t in sample] == alone
        with classifier.primed(sample[:3], top=5):  # already primed: kept by the outer block
            pass
        assert len(classifier._primed) == len(sample)
        assert classifier.predict(sample[0], top=3) == classifier.predict_many(sample[:1])[0]
    assert classifier._primed == {}


def test_place_names_searched_are_those_that_can_occur(
    knowledge: Knowledge, texts: list[str]
) -> None:
    for text in [*texts, "", "渝", "渝中区解放碑街道", "A市高桥镇"]:
        text = "".join(text.split())
        every = [g for g in grouped(knowledge) if g[0] in text]
        assert [g for g in locate._candidates(knowledge, text) if g[0] in text] == every


def test_known_words_read_by_substring_as_by_scanning_the_vocabulary(
    knowledge: Knowledge, texts: list[str]
) -> None:
    vocab = claims._vocabulary(knowledge)

    def scanned(word: str) -> bool:
        if len(word) <= 12 and claims._DEPARTMENT.search(word):
            return True
        if word in vocab:
            return True
        covered = max((len(v) for v in vocab if len(v) >= 2 and v in word), default=0)
        return len(word) <= 8 and covered * 2 >= len(word)

    words = {t[i : i + n] for t in texts[:80] for i in range(len(t)) for n in (1, 2, 3, 4, 6, 8, 9)}
    words |= {a + b for a, b in zip(sorted(vocab)[::7], sorted(vocab)[3::7], strict=False)}
    assert all(claims._known(w, vocab) == scanned(w) for w in words)


def test_memoised_duplicate_rows_give_the_same_similarities(
    knowledge: Knowledge, texts: list[str]
) -> None:
    rng = np.random.default_rng(3)
    for n in range(60):
        others = [texts[int(i)] for i in rng.choice(len(texts), size=int(rng.integers(1, 60)))]
        query = mask_names(texts[n])
        plain = duplicates.similarities(knowledge, query, [mask_names(o) for o in others])
        assert np.array_equal(plain, duplicates._memo_cosines(knowledge, query, others))
    # nothing in common, and an empty text
    assert duplicates._memo_cosines(knowledge, "甲乙丙", ["丁戊己"]).tolist() == [0.0]
    assert duplicates._memo_cosines(knowledge, "。", ["丁戊己", "。"]).tolist() == [0.0, 0.0]
