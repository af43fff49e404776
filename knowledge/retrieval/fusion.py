"""Reciprocal-rank fusion of the lexical and dense rankings, and the candidate pool it yields
for the re-ranker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.retrieval.rerank import FEATURES

RRF_K = 60
#: weight of the dense ranking in reciprocal-rank fusion (the "fused" mode, and the candidate
#: pool of the re-ranker)
DENSE_WEIGHT = 0.5
#: how deep each ranking is read before fusion
POOL = 100
#: how many fused articles the re-ranker scores
CANDIDATES = 60

Ranking = list[tuple[int, float]]  # (unit position, score), best first


@dataclass
class Candidates:
    ids: np.ndarray  # unit positions, best fused first
    rows: np.ndarray  # one feature row per candidate (FEATURES)
    fused: np.ndarray  # reciprocal-rank fusion score per candidate
    lexical: dict[int, tuple[int, float]]  # unit -> (rank from 0, BM25)
    dense: dict[int, tuple[int, float]]  # unit -> (rank from 0, similarity)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, dtype=int), np.zeros((0, len(FEATURES))), np.zeros(0), {}, {})


def top(scores: np.ndarray, k: int) -> Ranking:
    """The ``k`` best (position, score) pairs that score above zero, best first."""
    best = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in best if scores[i] > 0]


def fuse(lex: Ranking, den: Ranking) -> dict[int, float]:
    """Reciprocal-rank fusion; the dense ranking counts DENSE_WEIGHT beside a lexical one."""
    fused: dict[int, float] = {}
    for weight, ranking in ((1.0, lex), (DENSE_WEIGHT if lex else 1.0, den)):
        for rank, (i, _) in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + weight / (RRF_K + rank + 1)
    return fused


def positions(ranking: Ranking) -> dict[int, tuple[int, float]]:
    """unit -> (rank from 0, score) of a ranking."""
    return {i: (r, s) for r, (i, s) in enumerate(ranking)}
