"""Re-ranking of regulation candidates: a linear model over explainable signals, blended with
reciprocal-rank fusion.

The lexical and dense rankings each see one side of a question; which article answers it also
depends on what the question asks (a fine, a deadline, who is in charge), on how strongly its
law as a whole matches, and on whether one paragraph of a long article matches well.
``features`` turns those into numbers for each candidate; ``Reranker`` weighs them with
coefficients fitted by ``python -m evals.fit_reranker`` and shipped in
``knowledge/data/reranker.json``. Questions come in several styles (officers, residents,
grid workers' field notes), and a model fitted on some can lose to plain fusion on another, so
the final order blends the model's score with the fusion score (``blend``: 1 is the model
alone, 0 is fusion alone), the weight chosen by cross-style validation. A file with
``"method": "rrf"`` ships fusion alone. Every model score is a sum of named contributions, so
a hit can say why it ranks where it does."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.lawtext import Article

RERANKER_FILE = Path(__file__).parents[1] / "data" / "reranker.json"
#: how candidates are ordered: the fitted model blended with fusion, or fusion alone
METHODS = ("blend", "rrf")

#: what a question asks, recognised from the way officers ask it
INTENTS: dict[str, re.Pattern[str]] = {
    "penalty": re.compile(r"罚|处罚|拘留|吊销|赔|追究|咋处理|怎么处理"),
    "authority": re.compile(
        r"哪个管|归哪个|哪个部门|谁管|找哪个|报给哪个|哪个负责|哪个来|管不管|归谁|哪里管|报哪个|哪个出"
    ),
    "deadline": re.compile(r"多久|几天|多长时间|好久|几个小时|时限|期限|几次|多少天|多少时间"),
}
_PENALTY_TEXT = re.compile(r"罚款|拘留|吊销|没收")
_TIME_TEXT = re.compile(r"[0-9一二三四五六七八九十百]+个?(?:小时|日|工作日|个月|天|年|次)")
_DUTY_TEXT = re.compile(r"主管部门|负责|职责|管理部门|组织")

FEATURES = (
    "lexical",  # BM25 of the article, over the best article's
    "lexical_rank",  # 60 / (60 + rank)
    "dense_rank",
    "paragraph",  # best single paragraph (item) of the article, over the best paragraph's
    "paragraph_rank",
    "law_lexical",  # the best lexical score in the same law, over the best overall
    "dense_in_law",  # the article's similarity minus the best in its law
    "asks_penalty",  # the question asks about a fine and the article sets one
    "asks_deadline",  # … about a time limit and the article sets one
    "asks_authority",  # … who is in charge and the article assigns duties
    "liability_unasked",  # a liability-chapter article when no penalty is asked
    "chongqing",  # a Chongqing regulation (Sanji serves Chongqing's centers)
    "length",  # log article length
    "chapter_lexical",  # BM25 of the chapter heading
)


#: how each signal reads to an officer, when it lifts an article
SIGNAL_ZH = {
    "lexical": "关键词与问题高度重合",
    "lexical_rank": "关键词检索排名靠前",
    "dense_rank": "语义检索排名靠前",
    "paragraph": "其中一款或一项与问题高度吻合",
    "paragraph_rank": "单款单项检索排名靠前",
    "law_lexical": "所在法规整体与问题相关",
    "dense_in_law": "在本法规各条中语义最接近",
    "asks_penalty": "问的是处罚，本条设定了处罚",
    "asks_deadline": "问的是时限，本条规定了时限",
    "asks_authority": "问的是谁来管，本条规定了职责",
    "liability_unasked": "法律责任条款",
    "chongqing": "重庆地方性法规",
    "length": "条文内容较完整",
    "chapter_lexical": "所在章节标题与问题相关",
}


DENSE_SIGNALS = ("dense_rank", "dense_in_law")


def explain(
    contributions: dict[str, float], top: int = 3, floor: float = 0.15, dense: bool = True
) -> list[str]:
    """The strongest reasons an article ranks where it does, in words; ``dense=False`` when the
    dense ranking did not reach the article (its dense signals then say nothing about it)."""
    usable = {k: v for k, v in contributions.items() if dense or k not in DENSE_SIGNALS}
    best = sorted(usable.items(), key=lambda kv: -kv[1])[:top]
    return [SIGNAL_ZH[name] for name, value in best if value >= floor]


def intents(question: str) -> set[str]:
    return {name for name, rx in INTENTS.items() if rx.search(question)}


@dataclass(frozen=True)
class ArticleFlags:
    """Per-article facts the features need, computed once per index."""

    penalty: np.ndarray
    deadline: np.ndarray
    duty: np.ndarray
    liability: np.ndarray
    chongqing: np.ndarray
    length: np.ndarray

    @classmethod
    def of(cls, units: Sequence[Article]) -> ArticleFlags:
        liability = np.array(
            [("法律责任" in a.chapter or "罚则" in a.chapter) for a in units], dtype=bool
        )
        return cls(
            penalty=liability | np.array([bool(_PENALTY_TEXT.search(a.text)) for a in units]),
            deadline=np.array([bool(_TIME_TEXT.search(a.text)) for a in units], dtype=bool),
            duty=np.array([bool(_DUTY_TEXT.search(a.text)) for a in units], dtype=bool),
            liability=liability,
            chongqing=np.array([a.region == "重庆" for a in units], dtype=bool),
            length=np.log1p(np.array([len(a.text) for a in units], dtype=float)),
        )


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the best; every article that does not match at all shares the rank after the
    last that does (not an order that depends on where its file sorts)."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores))
    out[order] = np.arange(1, len(scores) + 1)
    matched = scores > 0
    out[~matched] = matched.sum() + 1
    return out


def features(
    question: str,
    candidates: np.ndarray,
    *,
    lexical: np.ndarray,
    paragraph: np.ndarray,
    chapter: np.ndarray,
    dense: np.ndarray,
    dense_rank: np.ndarray,
    law: np.ndarray,
    flags: ArticleFlags,
) -> np.ndarray:
    """One row per candidate, one column per name in ``FEATURES``. Score arrays cover every
    unit; ``dense`` is the similarity (NaN where the dense ranking did not reach), ``law`` the
    law id of each unit."""
    asked = intents(question)
    lex_top = lexical.max() or 1.0
    par_top = paragraph.max() or 1.0
    lex_rank = _ranks(lexical)
    par_rank = _ranks(paragraph)
    law_lex = np.zeros(law.max() + 1)
    np.maximum.at(law_lex, law, lexical / lex_top)
    known = ~np.isnan(dense)
    floor = float(np.nanmin(dense)) if known.any() else 0.0
    sims = np.where(known, dense, floor)
    law_dense = np.full(law.max() + 1, floor)
    np.maximum.at(law_dense, law, sims)
    c = candidates
    penalty = "penalty" in asked
    return np.column_stack(
        [
            lexical[c] / lex_top,
            60.0 / (60.0 + lex_rank[c]),
            60.0 / (60.0 + dense_rank[c]),
            paragraph[c] / par_top,
            60.0 / (60.0 + par_rank[c]),
            law_lex[law[c]],
            sims[c] - law_dense[law[c]],
            penalty * flags.penalty[c],
            ("deadline" in asked) * flags.deadline[c],
            ("authority" in asked) * flags.duty[c],
            (not penalty) * flags.liability[c],
            flags.chongqing[c],
            flags.length[c],
            chapter[c],
        ]
    ).astype(float)


def standardise(values: np.ndarray) -> np.ndarray:
    """Scores of one question's candidates on a common scale (mean 0, spread 1), so a model's
    score and the fusion score can be blended whatever their units."""
    spread = float(values.std()) if len(values) else 0.0
    return (values - values.mean()) / spread if spread > 0 else np.zeros(len(values))


def read_config(path: Path = RERANKER_FILE) -> dict[str, Any]:
    """The re-ranking configuration as stored (``method`` is ``blend`` when absent: files
    written before blending held a model alone)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    data.setdefault("method", "blend")
    return data


def rrf_config(reason: str, trained_on: str = "", report: dict[str, Any] | None = None) -> str:
    """A configuration that ranks by reciprocal-rank fusion alone, saying why."""
    body = {"method": "rrf", "reason": reason, "trained_on": trained_on}
    return json.dumps(
        body | ({"validation": report} if report else {}), ensure_ascii=False, indent=1
    )


@dataclass(frozen=True)
class Reranker:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    trained_on: str = ""
    #: weight of the model's standardised score beside the standardised fusion score
    blend: float = 1.0

    def score(self, x: np.ndarray) -> np.ndarray:
        """The model's score alone."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def rank_scores(self, x: np.ndarray, fused: np.ndarray) -> np.ndarray:
        """What one question's candidates are ordered by: the model's score blended with the
        fusion score, both standardised over these candidates."""
        if not len(fused):
            return np.zeros(0)
        return self.blend * standardise(self.score(x)) + (1 - self.blend) * standardise(fused)

    def with_blend(self, blend: float) -> Reranker:
        return replace(self, blend=float(blend))

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        parts = (row - self.mean) / self.scale * self.coef
        return {n: round(float(v), 3) for n, v in zip(self.names, parts, strict=True)}

    def to_json(self, report: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {
            "method": "blend",
            "blend": round(self.blend, 4),
            "features": list(self.names),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "trained_on": self.trained_on,
        }
        return json.dumps(
            body | ({"validation": report} if report else {}), ensure_ascii=False, indent=1
        )

    @staticmethod
    def problem(path: Path = RERANKER_FILE) -> str | None:
        """What keeps the configuration at ``path`` from being used, in words (None when it can
        be, including a deliberate ``method: rrf``): without it hybrid search silently falls
        back to reciprocal-rank fusion alone."""
        if not path.exists():
            return f"缺少重排模型文件 {path}，混合检索将退化为仅倒数排名融合（安装包不完整？）"
        try:
            data = read_config(path)
            if data["method"] == "rrf":
                return None
            Reranker.load(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"重排模型文件 {path} 无法读取：{exc}"
        if data["method"] not in METHODS:
            return f"重排模型文件 {path} 的方法 {data['method']!r} 未知（应为 blend 或 rrf）"
        if tuple(data.get("features", ())) != FEATURES:
            return (
                f"重排模型文件 {path} 的特征与当前代码不一致，"
                "请运行 python -m evals.fit_reranker 重新训练"
            )
        return None

    @classmethod
    def load(cls, path: Path = RERANKER_FILE) -> Reranker | None:
        """The shipped model, or None when the configuration says ``method: rrf``, is missing,
        or was fitted on other features: the index then ranks by reciprocal-rank fusion alone."""
        if not path.exists():
            return None
        data = read_config(path)
        if data["method"] != "blend" or tuple(data.get("features", ())) != FEATURES:
            return None
        return cls(
            names=FEATURES,
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            coef=np.asarray(data["coef"], dtype=float),
            intercept=float(data["intercept"]),
            trained_on=str(data.get("trained_on", "")),
            blend=float(data.get("blend", 1.0)),
        )

    @classmethod
    def fit(
        cls,
        rows: list[np.ndarray],
        labels: list[np.ndarray],
        c: float = 0.3,
        trained_on: str = "",
        weights: list[float] | None = None,
    ) -> Reranker:
        """Logistic regression on standardised features, positives up-weighted to balance;
        ``weights`` (one per question) let each question style count alike."""
        from sklearn.linear_model import LogisticRegression

        x = np.vstack(rows)
        y = np.concatenate(labels).astype(int)
        per_row = (
            np.concatenate([np.full(len(r), w) for r, w in zip(rows, weights, strict=True)])
            if weights is not None
            else None
        )
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        model.fit((x - mean) / scale, y, sample_weight=per_row)
        return cls(
            names=FEATURES,
            mean=mean,
            scale=scale,
            coef=model.coef_[0].copy(),
            intercept=float(model.intercept_[0]),
            trained_on=trained_on,
        )
