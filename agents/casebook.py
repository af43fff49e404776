"""Precedents (判例): the level and the lead department type learned from labelled events.

The rules decide from the subtype; people decide from the whole report. On independently
written events the rules agreed with careful readers on the level about two times in three,
while the readers agreed with each other nine times in ten (``evals/agreement.py``). The
casebook learns the readers' kind of judgement from events written and labelled for Sanji
(``knowledge/data/labelled/cases.jsonl``; the README's knowledge section says who wrote them): a character 1–3-gram TF-IDF of the
report and its address, and one linear SVM for the level and one for the lead type. Routing
takes its verdict; the rules still give the duties, the assisting units and the escalation
evidence, and decide alone when the casebook is off (``SANJI_PRECEDENTS=off``) or has no
verdict. Each verdict names its nearest precedents, so an officer sees which cases it rests on.

The model is trained at first use and kept under the data directory's ``models/``, named by
the hash of the cases and the method, like the subtype classifier."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from knowledge import Knowledge
from tools.routing import type_name

log = logging.getLogger(__name__)

CASES = Path(__file__).resolve().parents[1] / "knowledge" / "data" / "labelled" / "cases.jsonl"
#: C of each SVM, chosen by 5-fold cross-validation on the cases alone (macro-F1 over the
#: grid 0.03–10, with and without balanced class weights): ``python -m evals.casebook_cv``
C_LEVEL, C_LEAD, WEIGHT = 10.0, 1.0, "balanced"
METHOD = (
    f"places-masked seeded char1-3-tfidf+linearsvc(level C={C_LEVEL}, lead C={C_LEAD}, {WEIGHT})"
)
PRECEDENTS = 3


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
            "precedents": [p.__dict__ for p in self.precedents],
            "reason": f"参照已标注判例确定层级和主办类型，最相近的判例：{cases}",
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
    return joined if k is None else _places(k).sub("〇", joined)


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
        self.matrix = parts["matrix"]  # the cases' TF-IDF rows, for the nearest precedents
        self._columns = self.matrix.T.tocsr()  # transposed once: a product per verdict is cheap
        self.cases: list[dict[str, Any]] = parts["cases"]
        self.meta = meta
        self.k = k
        # lead types Sanji cannot place are never proposed
        self._can_lead = np.array([c in k.department_types for c in self.lead_svm.classes_])
        self._primed: dict[str, Verdict] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @classmethod
    def train(cls, k: Knowledge, cases: Sequence[dict[str, Any]]) -> CaseBook:
        texts = [case_text(c["text"], c.get("address"), k) for c in cases]
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        matrix = vectorizer.fit_transform(texts)
        level = LinearSVC(C=C_LEVEL, class_weight=WEIGHT, random_state=0).fit(
            matrix, [c["level"] for c in cases]
        )
        led = [n for n, c in enumerate(cases) if c.get("lead_type") in k.department_types]
        lead = LinearSVC(C=C_LEAD, class_weight=WEIGHT, random_state=0).fit(
            matrix[led], [cases[n]["lead_type"] for n in led]
        )
        kept = [
            {"id": c["id"], "level": c["level"], "lead_type": c.get("lead_type"), "text": c["text"]}
            for c in cases
        ]
        meta = {"version": data_version(cases, k), "cases": len(cases), "method": METHOD}
        parts = {"vectorizer": vectorizer, "level": level, "lead": lead, "matrix": matrix}
        return cls({**parts, "cases": kept}, meta, k)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        parts = {
            "vectorizer": self.vectorizer,
            "level": self.level_svm,
            "lead": self.lead_svm,
            "matrix": self.matrix,
            "cases": self.cases,
        }
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
        path = directory / f"casebook-{version}.joblib"
        if not (directory / f"casebook-{version}.json").exists():
            return None
        meta = json.loads((directory / f"casebook-{version}.json").read_text(encoding="utf-8"))
        return cls(joblib.load(path), meta, k)

    # -- verdicts ----------------------------------------------------------------------------

    def verdict(self, text: str, address: str | None) -> Verdict:
        key = case_text(text, address, self.k)
        known = self._primed.get(key)
        return known if known is not None else self._verdicts([key])[0]

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
                )
            )
        return out


def _per_class(scores: np.ndarray) -> np.ndarray:
    """One score per class and text (a two-class SVM gives one signed score per text)."""
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def _top2(scores: np.ndarray) -> tuple[int, int]:
    order = np.argsort(-scores)
    return int(order[0]), int(order[1])


_BUILD_LOCK = threading.Lock()


def ensure_casebook(k: Knowledge, models_dir: Path, path: Path = CASES) -> CaseBook:
    """The casebook of the shipped cases, trained at first use and kept in ``models_dir``."""
    cases = read_cases(path)
    version = data_version(cases, k)
    with _BUILD_LOCK:
        book = CaseBook.load(models_dir, version, k)
        if book is None:
            book = CaseBook.train(k, cases)
            book.save(models_dir)
            log.info("trained the casebook on %d labelled cases (%s)", len(cases), version)
        return book
