"""Cross-style validation of the regulation re-ranker.

Officers, residents and grid workers ask about the same articles in very different words, and
a model fitted on one way of asking can rank worse than plain reciprocal-rank fusion (RRF) on
another. So the shipped order blends the model's score with the fusion score, and the weight
of the model (``blend``) is chosen by the worst style: among the weights under which no style
loses recall@5 or MRR to fusion, the one whose smallest MRR gain over the styles is largest.
``cross_style`` checks that choice the honest way: for each style, the weight is chosen and the
model fitted on the other styles only, then measured on the held-out style.

Everything here works on prepared questions (``Item``: the candidates the index offers and which
of them answer), so it runs without an index."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evals.retrieval import Question, rank_metrics
from knowledge.retrieval.fusion import Candidates
from knowledge.retrieval.rerank import Reranker, standardise

#: the model weights tried beside fusion (0 is fusion alone, 1 the model alone)
BLENDS = tuple(round(0.1 * n, 1) for n in range(11))
#: the seed that split each style of ``retrieval-styles-*.jsonl`` into dev and test halves
SPLIT_SEED = 20261206


@dataclass
class Item:
    """One question as the re-ranker sees it."""

    question: Question
    cand: Candidates
    labels: np.ndarray  # per candidate: does it answer the question
    lexical_rank: int | None = None  # first answer in the lexical ranking alone (from 1)
    dense_rank: int | None = None  # … in the dense ranking alone

    @property
    def style(self) -> str:
        return self.question.style


@dataclass
class Rotation:
    """Fitted on every style but ``held_out``, measured on it."""

    held_out: str
    trained_on: tuple[str, ...]
    blend: float
    questions: int
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # ranker -> metrics

    @property
    def below_rrf(self) -> list[str]:
        """The measures on which the shipped blend ranks below fusion on the held-out style."""
        shipped, rrf = self.figures["blend"], self.figures["rrf"]
        return [m for m in ("recall@5", "mrr") if shipped[m] < rrf[m]]


def first_hit(scores: np.ndarray, labels: np.ndarray) -> int | None:
    """Rank (from 1) of the first answer when candidates are ordered by ``scores``; ties keep
    the candidates' fused order."""
    hit = np.nonzero(labels[np.argsort(-scores, kind="stable")])[0]
    return int(hit[0]) + 1 if len(hit) else None


def blended(model_scores: np.ndarray, fused: np.ndarray, blend: float) -> np.ndarray:
    """The order ``Reranker.rank_scores`` gives, from scores already computed."""
    if not len(fused):
        return np.zeros(0)
    return blend * standardise(model_scores) + (1 - blend) * standardise(fused)


def by_style(items: Sequence[Item], rank: Callable[[int, Item], int | None]) -> dict[str, dict]:
    """Metrics per style (and ``all``) of ``rank(position, item)``."""
    ranks: dict[str, list[int | None]] = {}
    for n, it in enumerate(items):
        r = rank(n, it)
        ranks.setdefault(it.style, []).append(r)
        ranks.setdefault("all", []).append(r)
    return {s: {"questions": len(r), **rank_metrics(r)} for s, r in sorted(ranks.items())}


def style_weights(items: Sequence[Item]) -> list[float]:
    """One weight per question so that every style weighs the same in a fit."""
    counts: dict[str, int] = {}
    for it in items:
        counts[it.style] = counts.get(it.style, 0) + 1
    return [len(items) / (len(counts) * counts[it.style]) for it in items]


def fit(items: Sequence[Item], c: float, trained_on: str = "") -> Reranker:
    return Reranker.fit(
        [it.cand.rows for it in items],
        [it.labels for it in items],
        c=c,
        trained_on=trained_on,
        weights=style_weights(items),
    )


def out_of_fold(items: Sequence[Item], folds: int, c: float) -> list[np.ndarray]:
    """Each question's model scores from a model fitted without its fold."""
    scores: list[np.ndarray] = [np.zeros(0)] * len(items)
    for f in range(folds):
        train = [it for n, it in enumerate(items) if n % folds != f]
        if not any(it.labels.any() for it in train):
            continue  # nothing to learn from: these questions keep no model scores
        model = fit(train, c)
        for n in range(f, len(items), folds):
            scores[n] = model.score(items[n].cand.rows)
    return scores


def choose_blend(items: Sequence[Item], model_scores: Sequence[np.ndarray]) -> tuple[float, dict]:
    """The model weight by the worst-style criterion (see the module's doc), with the figures
    of every weight tried. Fusion alone (0) is always allowed, so a model that helps no style
    without hurting another gets weight 0."""

    def ranker(b: float) -> Callable[[int, Item], int | None]:
        def rank(n: int, it: Item) -> int | None:
            scores = model_scores[n]
            order = blended(scores, it.cand.fused, b) if len(scores) else it.cand.fused
            return first_hit(order, it.labels)

        return rank

    tried = {b: by_style(items, ranker(b)) for b in BLENDS}
    rrf = tried[0.0]
    styles = [s for s in rrf if s != "all"]
    best, key = 0.0, (0.0, 0.0)
    for b, figures in tried.items():
        gains = [figures[s]["mrr"] - rrf[s]["mrr"] for s in styles]
        if any(figures[s]["recall@5"] < rrf[s]["recall@5"] for s in styles) or min(gains) < 0:
            continue
        candidate = (round(min(gains), 6), round(float(np.mean(gains)), 6))
        if candidate > key:
            best, key = b, candidate
    return best, {str(b): f for b, f in tried.items()}


def halves(ids: Sequence[str], seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """One style's questions (in the order they were written) split into a development and a
    test half by a fixed seed: how ``retrieval-styles-dev/test.jsonl`` were made, before any
    fitting."""
    order = list(range(len(ids)))
    random.Random(seed).shuffle(order)
    dev = set(order[: len(ids) // 2])
    return [i for n, i in enumerate(ids) if n in dev], [
        i for n, i in enumerate(ids) if n not in dev
    ]


def rotations(styles: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Each style held out in turn, fitted on all the others."""
    ordered = sorted(set(styles))
    return [(s, tuple(o for o in ordered if o != s)) for s in ordered]


def measure(items: Sequence[Item], model: Reranker) -> dict[str, dict[str, float]]:
    """Figures of every ranker on these questions: lexical and dense alone, fusion, the model
    alone and the blend the model ships with."""
    scores = [model.score(it.cand.rows) for it in items]

    def ranks(rank: Callable[[int, Item], int | None]) -> dict[str, float]:
        return rank_metrics([rank(n, it) for n, it in enumerate(items)])

    return {
        "lexical": ranks(lambda n, it: it.lexical_rank),
        "dense": ranks(lambda n, it: it.dense_rank),
        "rrf": ranks(lambda n, it: first_hit(it.cand.fused, it.labels)),
        "model": ranks(lambda n, it: first_hit(scores[n], it.labels)),
        "blend": ranks(
            lambda n, it: first_hit(blended(scores[n], it.cand.fused, model.blend), it.labels)
        ),
    }


def cross_style(items: Sequence[Item], folds: int, c: float) -> list[Rotation]:
    """Fit on all styles but one (the blend chosen on those styles by out-of-fold scores),
    measure on the one left out; every style in turn."""
    out = []
    for held, others in rotations([it.style for it in items]):
        train = [it for it in items if it.style != held]
        test = [it for it in items if it.style == held]
        blend, _ = choose_blend(train, out_of_fold(train, folds, c))
        model = fit(train, c).with_blend(blend)
        out.append(Rotation(held, others, blend, len(test), measure(test, model)))
    return out
