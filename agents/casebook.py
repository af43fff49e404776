"""Precedents (判例): the level and the lead department type learned from labelled events.

The rules decide from the subtype; people decide from the whole report. On independently
written events the rules agreed with careful readers on the level about two times in three,
while the readers agreed with each other nine times in ten (``evals/agreement.py``). The
casebook learns the readers' kind of judgement from events written and labelled for Sanji
(``knowledge/data/labelled/cases.jsonl``; the README's knowledge section says who wrote them),
each read by its writer and by a blind second reader: a character 1–3-gram TF-IDF of the
report and its address, and one linear SVM each for the level, the lead type and the urgency. Routing
takes its verdict; the rules still give the duties, the assisting units and the escalation
evidence, and decide alone when the casebook is off (``SANJI_PRECEDENTS=off``) or has no
verdict. Each verdict names its nearest precedents, so an officer sees which cases it rests on,
and says how sure it is: a part of it below the line that keeps unaided verdicts at the
targets on writers the model never saw is left to an officer to confirm.

The model is trained at first use and kept under the data directory's ``models/``, named by
the hash of the cases and the method, like the subtype classifier."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from knowledge import Knowledge
from tools.routing import type_name

log = logging.getLogger(__name__)

CASES = Path(__file__).resolve().parents[1] / "knowledge" / "data" / "labelled" / "cases.jsonl"
#: C of each SVM, chosen on the cases alone by cross-validation over held-out writers (the
#: smallest C within half a point of the best): ``python -m evals.casebook_cv``; balanced class
#: weights, as chosen by the strong baseline's inner CV on the writers' labels
C_LEVEL, C_LEAD, C_URGENCY, WEIGHT = 0.3, 1.0, 0.3, "balanced"
#: the accuracy a verdict taken without an officer must reach, as issue #15 sets it for the
#: level and the lead type. Each verdict's confidence is calibrated on out-of-fold verdicts
#: over the cases, folds grouped by writer (a new writer's events, as Sanji meets them), and
#: the lowest confidence at which the accepted verdicts reach the target there becomes the
#: threshold below which the draft asks an officer to confirm
TARGET = {"level": 0.85, "lead": 0.80}
CALIBRATION_FOLDS = 4
METHOD = (
    f"places-masked seeded char1-3-tfidf+linearsvc(level C={C_LEVEL}, lead C={C_LEAD},"
    f" urgency C={C_URGENCY}, {WEIGHT})"
    f" on every reading, calibrated isotonic on margins, {CALIBRATION_FOLDS} writer folds,"
    f" targets {TARGET}"
)
PRECEDENTS = 3
RECENT = 64  # verdicts kept for a second asking


@dataclass(frozen=True)
class Precedent:
    id: str
    level: str
    lead_type: str | None
    similarity: float
    text: str


@dataclass(frozen=True)
class Verdict:
    level: str
    lead_type: str
    level_margin: float  # the winning SVM score minus the runner-up's
    lead_margin: float
    precedents: tuple[Precedent, ...]
    # the chance that the level (the lead type) is right, calibrated out of fold on the cases
    level_confidence: float
    lead_confidence: float
    # below these an officer confirms (``TARGET``): the parts of the verdict that fall short
    thresholds: tuple[float, float]
    urgency: str  # how urgent people judged like events

    @property
    def unsure(self) -> tuple[str, ...]:
        """``level`` and/or ``lead``: the parts whose confidence is under their threshold."""
        parts = (("level", self.level_confidence), ("lead", self.lead_confidence))
        return tuple(name for (name, p), t in zip(parts, self.thresholds, strict=True) if p < t)

    def as_note(self, k: Knowledge) -> dict[str, Any]:
        """What routing records and the draft explains."""
        cases = "；".join(
            f"{p.id}「{p.text[:24]}…」（{_LEVEL_ZH.get(p.level, p.level)}"
            f"{'、' + type_name(k, p.lead_type, p.level) if p.lead_type else ''}，"
            f"相似度{p.similarity:.2f}）"
            for p in self.precedents
        )
        return {
            "level": self.level,
            "lead_type": self.lead_type,
            "level_margin": round(self.level_margin, 3),
            "lead_margin": round(self.lead_margin, 3),
            "confidence": {
                "level": round(self.level_confidence, 3),
                "lead_type": round(self.lead_confidence, 3),
                "level_threshold": round(self.thresholds[0], 3),
                "lead_threshold": round(self.thresholds[1], 3),
            },
            "unsure": list(self.unsure),
            "urgency": self.urgency,
            "precedents": [p.__dict__ for p in self.precedents],
            "reason": (
                f"参照已标注判例确定层级和主办类型（把握：层级{self.level_confidence:.2f}、"
                f"主办类型{self.lead_confidence:.2f}），最相近的判例：{cases}"
            ),
        }


_LEVEL_ZH = {"street": "街镇级", "district": "区县级", "city": "市级"}


def read_cases(path: Path = CASES) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def case_text(text: str, address: str | None, k: Knowledge | None = None) -> str:
    """What the casebook reads: the report and the address as given (the address names
    bridges, rail lines and towns the text may not), with the names of districts, streets,
    roads and landmarks replaced by 〇 when ``k`` is given: whether an event is a street's or
    a district's matter depends on what happened, not on where (a stall at 解放碑 is a stall),
    and a few hundred cases cannot teach every place. River bridges and rail lines keep
    their names: they are city-owned."""
    joined = f"{text} {address or ''}".strip()
    if k is None:
        return joined
    kept = _kept(k)
    return _places(k).sub(lambda m: m[0] if m[0] in kept else "〇", joined)


@cache
def _kept(k: Knowledge) -> frozenset[str]:
    """Names read but kept: places across districts (river bridges, 长江), whose parts may be
    places of their own (千厮门嘉陵江大桥 is not 千厮门)."""
    from tools.placenames import aliases

    return frozenset(a.text for a in aliases(k) if a.kind == "quiet" and len(a.text) >= 2)


@cache
def _places(k: Knowledge) -> re.Pattern[str]:
    from tools.placenames import aliases

    names = {
        a.text
        for a in aliases(k)
        if a.kind in ("district", "street", "former", "road", "landmark", "place")
        or (a.kind == "stem" and len(a.text) >= 3)
    }
    names -= {n for n in names if len(n) < 2}
    names |= _kept(k)
    return re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))


def data_version(cases: Sequence[dict[str, Any]], k: Knowledge) -> str:
    """The model's name: the cases, the method, and what of the knowledge it depends on (the
    place names it masks, the department types it may propose) and scikit-learn's version."""
    import sklearn

    h = hashlib.sha256(f"{METHOD} sklearn {sklearn.__version__}".encode())
    h.update(_places(k).pattern.encode())
    h.update(" ".join(sorted(k.department_types)).encode())
    for c in cases:
        h.update(json.dumps(c, ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()[:12]


class CaseBook:
    def __init__(self, parts: dict[str, Any], meta: dict[str, Any], k: Knowledge) -> None:
        self.vectorizer: TfidfVectorizer = parts["vectorizer"]
        self.level_svm: LinearSVC = parts["level"]
        self.lead_svm: LinearSVC = parts["lead"]
        self.urgency_svm: LinearSVC = parts["urgency"]
        self.calibration: dict[str, IsotonicRegression] = parts["calibration"]
        self.matrix = parts["matrix"]  # the cases' TF-IDF rows, for the nearest precedents
        self._columns = self.matrix.T.tocsr()  # transposed once: a product per verdict is cheap
        self.cases: list[dict[str, Any]] = parts["cases"]
        self.meta = meta
        self.k = k
        # lead types Sanji cannot place are never proposed
        self._can_lead = np.array([c in k.department_types for c in self.lead_svm.classes_])
        self._thresholds = (float(meta["thresholds"]["level"]), float(meta["thresholds"]["lead"]))
        self._primed: dict[str, Verdict] = {}
        # the last verdicts given one by one: intake (the urgency) and routing (the level and
        # lead) ask for the same event's verdict in one draft
        self._recent: OrderedDict[str, Verdict] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @classmethod
    def train(cls, k: Knowledge, cases: Sequence[dict[str, Any]]) -> CaseBook:
        texts = [case_text(c["text"], c.get("address"), k) for c in cases]
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        matrix = vectorizer.fit_transform(texts)
        level_rows = _readings(cases, "level", lambda label: label is not None)
        lead_rows = _readings(cases, "lead_type", lambda label: label in k.department_types)
        writers = np.array([str(c.get("writer") or c["id"]) for c in cases])
        models, calibration, thresholds, held_out = {}, {}, {}, {}
        for name, (rows, y, w), c in (
            ("level", level_rows, C_LEVEL),
            ("lead", lead_rows, C_LEAD),
        ):
            x = matrix[rows]
            models[name] = _svm(c).fit(x, y, sample_weight=w)
            margins, right, fold = _out_of_fold(x, y, w, writers[rows], c)
            calibration[name] = _isotonic(margins, right, w)
            # the threshold is chosen on confidences each writer fold gets from a calibration
            # fitted on the other folds, so that it is not checked on what it was fitted on
            p = np.zeros(len(margins))
            for f in np.unique(fold):
                mine = fold == f
                p[mine] = _isotonic(margins[~mine], right[~mine], w[~mine]).predict(margins[mine])
            thresholds[name] = _threshold(p, right, TARGET[name], w)
            accepted = p >= thresholds[name]
            held_out[name] = {
                "accuracy": round(float(np.average(right, weights=w)), 4),
                "accepted": round(float(np.average(accepted, weights=w)), 4),
                "accepted_accuracy": round(
                    float(np.average(right[accepted], weights=w[accepted])), 4
                )
                if accepted.any()
                else None,
            }
        level, lead = models["level"], models["lead"]
        rows, y, w = _readings(cases, "urgency", lambda label: label is not None)
        urgency = _svm(C_URGENCY).fit(matrix[rows], y, sample_weight=w)
        kept = [
            {"id": c["id"], "level": c["level"], "lead_type": c.get("lead_type"), "text": c["text"]}
            for c in cases
        ]
        meta = {
            "version": data_version(cases, k),
            "cases": len(cases),
            "readings": int(level_rows[2].sum()),
            "method": METHOD,
            "thresholds": thresholds,
            "out_of_fold": held_out,
        }
        parts = {
            "vectorizer": vectorizer,
            "level": level,
            "lead": lead,
            "urgency": urgency,
            "calibration": calibration,
            "matrix": matrix,
        }
        return cls({**parts, "cases": kept}, meta, k)

    def _parts(self) -> dict[str, Any]:
        return {
            "vectorizer": self.vectorizer,
            "level": self.level_svm,
            "lead": self.lead_svm,
            "urgency": self.urgency_svm,
            "calibration": self.calibration,
            "matrix": self.matrix,
            "cases": self.cases,
        }

    def rebound(self, k: Knowledge) -> CaseBook:
        """The same model serving another knowledge object of the same version."""
        return CaseBook(self._parts(), dict(self.meta), k)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        parts = self._parts()
        # written aside and renamed: another process starting on the same data directory
        # reads a whole model or none (the meta file, renamed last, says it is complete)
        model = directory / f"casebook-{self.version}.joblib"
        meta = directory / f"casebook-{self.version}.json"
        part = f".part-{os.getpid()}-{threading.get_ident()}"
        joblib.dump(parts, model.with_name(model.name + part))
        os.replace(model.with_name(model.name + part), model)
        meta.with_name(meta.name + part).write_text(
            json.dumps(self.meta, ensure_ascii=False), encoding="utf-8"
        )
        os.replace(meta.with_name(meta.name + part), meta)

    @classmethod
    def load(cls, directory: Path, version: str, k: Knowledge) -> CaseBook | None:
        """The saved model of ``version``, or None when there is none or it cannot be read
        (then it is trained again: the cases it comes from are shipped)."""
        path = directory / f"casebook-{version}.joblib"
        if not (directory / f"casebook-{version}.json").exists():
            return None
        try:
            meta = json.loads((directory / f"casebook-{version}.json").read_text(encoding="utf-8"))
            return cls(joblib.load(path), meta, k)
        except Exception as e:
            # a file cut short, not a model at all, or a class gone after an upgrade
            log.warning(
                "the saved casebook %s cannot be read (%s: %s): it is trained again",
                version,
                type(e).__name__,
                e,
            )
            return None

    # -- verdicts ----------------------------------------------------------------------------

    def verdict(self, text: str, address: str | None) -> Verdict:
        key = case_text(text, address, self.k)
        with self._lock:
            known = self._primed.get(key) or self._recent.get(key)
        if known is None:
            known = self._verdicts([key])[0]
            with self._lock:
                self._recent[key] = known
                if len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        return known

    @contextmanager
    def primed(self, pairs: Sequence[tuple[str, str | None]]) -> Iterator[None]:
        """Verdicts for a batch computed at once (one vectorisation, one product per SVM),
        served by ``verdict`` inside the block."""
        keys = [case_text(t, a, self.k) for t, a in pairs]
        verdicts = self._verdicts(keys) if keys else []
        with self._lock:
            self._primed.update(zip(keys, verdicts, strict=True))
        try:
            yield
        finally:
            with self._lock:
                for key in keys:
                    self._primed.pop(key, None)

    def _verdicts(self, keys: list[str]) -> list[Verdict]:
        x = self.vectorizer.transform(keys)
        level_scores = _per_class(self.level_svm.decision_function(x))
        lead_scores = np.where(
            self._can_lead, _per_class(self.lead_svm.decision_function(x)), -np.inf
        )
        similar = np.asarray((x @ self._columns).todense())
        urgencies = self.urgency_svm.predict(x)
        p_level = self.calibration["level"].predict(_margins(level_scores))
        p_lead = self.calibration["lead"].predict(_margins(lead_scores))
        out = []
        for n in range(len(keys)):
            lv, ld = _top2(level_scores[n]), _top2(lead_scores[n])
            nearest = np.argsort(-similar[n])[:PRECEDENTS]
            out.append(
                Verdict(
                    level=str(self.level_svm.classes_[lv[0]]),
                    lead_type=str(self.lead_svm.classes_[ld[0]]),
                    level_margin=float(level_scores[n][lv[0]] - level_scores[n][lv[1]]),
                    lead_margin=float(lead_scores[n][ld[0]] - lead_scores[n][ld[1]]),
                    precedents=tuple(
                        Precedent(
                            id=self.cases[i]["id"],
                            level=self.cases[i]["level"],
                            lead_type=self.cases[i]["lead_type"],
                            similarity=round(float(similar[n][i]), 3),
                            text=self.cases[i]["text"][:80],
                        )
                        for i in nearest
                    ),
                    level_confidence=float(p_level[n]),
                    lead_confidence=float(p_lead[n]),
                    thresholds=self._thresholds,
                    urgency=str(urgencies[n]),
                )
            )
        return out


def _per_class(scores: np.ndarray) -> np.ndarray:
    """One score per class and text (a two-class SVM gives one signed score per text)."""
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def _svm(c: float) -> LinearSVC:
    return LinearSVC(C=c, class_weight=WEIGHT, random_state=0)


def _margins(scores: np.ndarray) -> np.ndarray:
    """Each row's winning score minus its runner-up's (classes never proposed score -inf)."""
    top = np.sort(scores, axis=1)
    return np.nan_to_num(top[:, -1] - top[:, -2], posinf=np.finfo(float).max)


def _readings(
    cases: Sequence[dict[str, Any]], key: str, keep: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(case, label, weight) rows of what the case's readers said of ``key``: the writer and,
    where there is one, a blind second reader. A case both read alike weighs 2; one they read
    apart teaches both labels at weight 1."""
    rows: list[int] = []
    labels: list[str] = []
    weights: list[float] = []
    for n, c in enumerate(cases):
        said = [r.get(key) for r in (c, c.get("reader")) if r and keep(r.get(key))]
        for label in dict.fromkeys(said):
            rows.append(n)
            labels.append(str(label))
            weights.append(float(said.count(label)))
    return np.array(rows), np.array(labels), np.array(weights)


def _isotonic(margins: np.ndarray, right: np.ndarray, w: np.ndarray) -> IsotonicRegression:
    """The chance a verdict is right, as it grows with the SVM's margin."""
    return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
        margins, right, sample_weight=w
    )


def _out_of_fold(
    x: Any, y: np.ndarray, w: np.ndarray, groups: np.ndarray, c: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Margins and rightness of verdicts on each writer's cases by SVMs trained without that
    writer (the features' vocabulary is the whole casebook's: it sees no label), and each
    row's fold."""
    margins = np.zeros(len(y))
    right = np.zeros(len(y), dtype=bool)
    fold = np.zeros(len(y), dtype=int)
    if len(set(groups.tolist())) < 2:  # one writer: folds of cases instead
        groups = np.arange(len(y))
    folds = GroupKFold(n_splits=min(CALIBRATION_FOLDS, len(set(groups.tolist()))))
    for n, (train, test) in enumerate(folds.split(x, y, groups)):
        svm = _svm(c).fit(x[train], y[train], sample_weight=w[train])
        scores = _per_class(svm.decision_function(x[test]))
        margins[test] = _margins(scores)
        right[test] = svm.classes_[scores.argmax(axis=1)] == y[test]
        fold[test] = n
    return margins, right, fold


def _threshold(
    p: np.ndarray, right: np.ndarray, target: float, w: np.ndarray | None = None
) -> float:
    """The lowest confidence whose accepted verdicts (confidence at or above it) are right at
    least ``target`` of the time (weighted by ``w``); 1.0 (every verdict checked) when none
    is."""
    w = np.ones(len(p)) if w is None else w
    for t in np.unique(p):
        accepted = p >= t
        if np.average(right[accepted], weights=w[accepted]) >= target:
            return float(t)
    return 1.0


def _top2(scores: np.ndarray) -> tuple[int, int]:
    order = np.argsort(-scores)
    return int(order[0]), int(order[1])


_BUILD_LOCK = threading.Lock()
#: the models this process trained, by version
_TRAINED: dict[str, CaseBook] = {}


def ensure_casebook(k: Knowledge, models_dir: Path, path: Path = CASES) -> CaseBook:
    """The casebook of the shipped cases, trained at first use and kept in ``models_dir``."""
    cases = read_cases(path)
    version = data_version(cases, k)
    with _BUILD_LOCK:
        book = CaseBook.load(models_dir, version, k)
        if book is None:
            # a process that trained this very model for another data directory copies it
            known = _TRAINED.get(version)
            book = CaseBook.train(k, cases) if known is None else known.rebound(k)
            book.save(models_dir)
            if known is None:
                _TRAINED.clear()  # the latest model only: a process rarely needs two
                _TRAINED[version] = book
                log.info("trained the casebook on %d labelled cases (%s)", len(cases), version)
        return book
