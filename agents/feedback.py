"""What officers teach Sanji: routing corrections learned from adjudicated returns and edited
drafts (``sanji train --feedback``).

Labels, strongest first. An accepted return (退单裁定：同意改派) names the department that should
have led (weight 2). An officer who changed the lead before dispatch names it too (weight 1). A
rejected return confirms the department that returned it (weight 1). An order a department
signed for (签收) and never returned confirms its lead (weight 0.5). One label per event: the
strongest, the latest among equals. A label is a department *type*; routing places the type
at the event's jurisdiction as it places any type.

The model is one small classifier per drafted subtype that officers corrected at least
``MIN_CORRECTIONS`` times: the text (character 1–2-grams) and the district → the lead type. It
speaks only when it is sure (probability ≥ ``APPLY_AT``) and then only if it disagrees with the
rules; the draft names the model version, the subtype's corrections and the probability, so the
officer sees why. Models are versioned by their data; earlier versions stay on disk beside the
one ``feedback-current.txt`` names, and a new one is used only after it was compared with the
current one on the same held-out labels (``compare``)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from knowledge import Knowledge
from store import EventStore

#: how sure the model must be before it overrides the rules' lead
APPLY_AT = 0.6
#: a subtype gets a model once officers corrected its lead this many times
MIN_CORRECTIONS = 3
WEIGHTS = {"accepted_return": 2.0, "edited_lead": 1.0, "rejected_return": 1.0, "signed": 0.5}
KIND_ZH = {
    "accepted_return": "退单裁定改派",
    "edited_lead": "审核改主办",
    "rejected_return": "退单被驳回",
    "signed": "部门签收",
}
POINTER = "feedback-current.txt"


@dataclass(frozen=True)
class Example:
    """One event's lesson: what the draft said and what officers settled on."""

    event_id: int
    text: str
    subtype: str
    district: str | None
    drafted: str  # the department type the draft (or the returned order) named
    label: str  # the department type officers settled on
    kind: str  # a key of WEIGHTS
    at: datetime

    @property
    def weight(self) -> float:
        return WEIGHTS[self.kind]

    @property
    def corrected(self) -> bool:
        return self.label != self.drafted


def _type(k: Knowledge, code: str | None) -> str | None:
    dept = k.departments.get(code) if code else None
    return dept.type if dept is not None else None


def collect(
    store: EventStore, k: Knowledge, outcomes: list[dict[str, Any]] | None = None
) -> list[Example]:
    """Every event's lesson from the store, oldest first. ``outcomes``: the store's
    ``order_outcomes()`` when the caller has read them already."""
    found: list[Example] = []

    def add(
        row: dict[str, Any], drafted: str | None, label: str | None, kind: str, at: Any
    ) -> None:
        if not row.get("subtype") or drafted is None or label is None or at is None:
            return
        found.append(
            Example(
                event_id=int(row["event_id"]),
                text=str(row["text"]),
                subtype=str(row["subtype"]),
                district=row.get("district"),
                drafted=drafted,
                label=label,
                kind=kind,
                at=at,
            )
        )

    for row in store.routing_feedback(["draft_edited", "return_adjudicated"]):
        p = row["payload"] or {}
        if row["kind"] == "draft_edited":
            lead = (p.get("edits") or {}).get("lead_department")
            before = (p.get("before") or {}).get("lead")
            if lead:
                add(row, _type(k, before), _type(k, lead), "edited_lead", row["created_at"])
        elif p.get("decision") == "accept" and p.get("corrected_department"):
            returned, corrected = p.get("returned_department"), p["corrected_department"]
            add(row, _type(k, returned), _type(k, corrected), "accepted_return", row["created_at"])
        elif p.get("decision") == "reject":
            returned = _type(k, p.get("returned_department"))
            add(row, returned, returned, "rejected_return", row["created_at"])
    for row in store.order_outcomes() if outcomes is None else outcomes:
        if row["accepted_at"] is not None and row["status"] != "returned":
            lead = _type(k, row["lead_department"])
            add(row, lead, lead, "signed", row["accepted_at"])
    best: dict[int, Example] = {}
    for ex in sorted(found, key=lambda e: e.at):
        held = best.get(ex.event_id)
        if held is None or ex.weight >= held.weight:
            best[ex.event_id] = ex
    return sorted(best.values(), key=lambda e: (e.at, e.event_id))


def _texts(rows: Sequence[tuple[str, str]]) -> list[str]:
    return [text for text, _ in rows]


def _districts(rows: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
    return [{district: 1.0} for _, district in rows]


def _features(text: str, district: str | None) -> tuple[str, str]:
    return (text, district or "-")


def _pipeline() -> Pipeline:
    """The text (character 1–2-grams) beside the district (one-hot): a correction that holds
    in some districts only is learned as such."""
    return Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        (
                            "text",
                            Pipeline(
                                [
                                    ("pick", FunctionTransformer(_texts)),
                                    (
                                        "tfidf",
                                        TfidfVectorizer(
                                            analyzer="char", ngram_range=(1, 2), sublinear_tf=True
                                        ),
                                    ),
                                ]
                            ),
                        ),
                        (
                            "district",
                            Pipeline(
                                [
                                    ("pick", FunctionTransformer(_districts)),
                                    ("onehot", DictVectorizer()),
                                ]
                            ),
                        ),
                    ]
                ),
            ),
            ("lr", LogisticRegression(C=4.0, max_iter=2000)),
        ]
    )


@dataclass(frozen=True)
class Suggestion:
    type: str
    probability: float
    corrections: int
    version: str

    def reason(self, name: str) -> str:
        return (
            f"依据值班员的{self.corrections}次纠正（退单裁定改派、审核改主办）学得："
            f"此类事件应由{name}主办（把握 {self.probability:.0%}，纠正模型 {self.version}）"
        )


@dataclass
class _SubtypeModel:
    labels: list[str]
    corrections: int
    pipeline: Pipeline | None = None  # None: every label was the same type

    def probabilities(self, text: str, district: str | None) -> dict[str, float]:
        if self.pipeline is None:
            # one type only: sure in proportion to the evidence (Laplace: n / (n + 1))
            return {self.labels[0]: self.corrections / (self.corrections + 1)}
        p = self.pipeline.predict_proba([_features(text, district)])[0]
        return {str(c): float(x) for c, x in zip(self.pipeline.classes_, p, strict=True)}


@dataclass
class FeedbackModel:
    """Per drafted subtype, the lead type officers settle on."""

    models: dict[str, _SubtypeModel]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "-"))

    def suggest(self, text: str, subtype: str, district: str | None) -> Suggestion | None:
        """The lead type the corrections point to for this event, when the model is sure."""
        m = self.models.get(subtype)
        if m is None:
            return None
        probs = m.probabilities(text, district)
        kind, p = max(probs.items(), key=lambda kv: kv[1])
        if p < APPLY_AT:
            return None
        return Suggestion(kind, round(p, 3), m.corrections, self.version)

    @classmethod
    def train(cls, examples: Sequence[Example]) -> FeedbackModel:
        by_subtype: dict[str, list[Example]] = defaultdict(list)
        for ex in examples:
            by_subtype[ex.subtype].append(ex)
        models: dict[str, _SubtypeModel] = {}
        for subtype, rows in sorted(by_subtype.items()):
            corrections = sum(ex.corrected for ex in rows)
            if corrections < MIN_CORRECTIONS:
                continue
            labels = sorted({ex.label for ex in rows})
            if len(labels) == 1:
                models[subtype] = _SubtypeModel(labels, corrections)
                continue
            pipeline = _pipeline()
            pipeline.fit(
                [_features(ex.text, ex.district) for ex in rows],
                [ex.label for ex in rows],
                lr__sample_weight=np.array([ex.weight for ex in rows]),
            )
            models[subtype] = _SubtypeModel(labels, corrections, pipeline)
        meta = {
            "version": "fb-" + data_version(examples),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "examples": len(examples),
            "corrections": sum(ex.corrected for ex in examples),
            "kinds": dict(Counter(ex.kind for ex in examples)),
            "subtypes": {s: m.labels for s, m in models.items()},
            "apply_at": APPLY_AT,
            "min_corrections": MIN_CORRECTIONS,
        }
        return cls(models, meta)

    def save(self, directory: Path) -> Path:
        """Write this version beside the earlier ones and make it current."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"feedback-{self.version}.joblib"
        joblib.dump(self.models, path)
        (directory / f"feedback-{self.version}.json").write_text(
            json.dumps(self.meta, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        (directory / POINTER).write_text(self.version, encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path) -> FeedbackModel | None:
        """The current version, or None when none was ever trained (or its files are gone)."""
        pointer = directory / POINTER
        if not pointer.exists():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        try:
            meta = json.loads((directory / f"feedback-{version}.json").read_text("utf-8"))
            models = joblib.load(directory / f"feedback-{version}.joblib")
        except (OSError, ValueError):
            return None
        return cls(models, meta)


def data_version(examples: Iterable[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(f"{ex.event_id}\t{ex.subtype}\t{ex.label}\t{ex.kind}\n".encode())
    return h.hexdigest()[:10]


def split(examples: Sequence[Example], holdout: float) -> tuple[list[Example], list[Example]]:
    """The earlier share to learn from and the latest share to test on (time order: a model
    is judged on lessons that came after everything it learned)."""
    cut = len(examples) - max(1, round(len(examples) * holdout)) if examples else 0
    return list(examples[:cut]), list(examples[cut:])


def predict(model: FeedbackModel | None, ex: Example) -> str:
    """The lead type routing would pick for the example's event: the model's when it is sure,
    else the rules' (what the draft named)."""
    s = model.suggest(ex.text, ex.subtype, ex.district) if model is not None else None
    return s.type if s is not None else ex.drafted


@dataclass
class Comparison:
    """Lead-type accuracy of several models on the same held-out lessons, overall and per
    subtype."""

    models: list[str]
    cases: int
    overall: dict[str, float]
    by_subtype: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(models: dict[str, FeedbackModel | None], heldout: Sequence[Example]) -> Comparison:
    """Score each model on the held-out lessons: is the lead type the one officers settled
    on? ``None`` stands for the rules alone."""
    overall: dict[str, float] = {}
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"cases": 0})
    for name, model in models.items():
        right = [predict(model, ex) == ex.label for ex in heldout]
        overall[name] = round(float(np.mean(right)), 4) if right else 0.0
        for ex, ok in zip(heldout, right, strict=True):
            row = per[ex.subtype]
            row.setdefault(name, 0)
            row[name] += int(ok)
    for ex in heldout:
        per[ex.subtype]["cases"] += 1
    for row in per.values():
        for name in models:
            row[name] = round(row.get(name, 0) / row["cases"], 4)
    return Comparison(list(models), len(heldout), overall, dict(sorted(per.items())))


@dataclass
class DriftRow:
    """One department type and subtype: how its orders fared and how often officers
    disagreed with the draft (and with the current model)."""

    department_type: str
    subtype: str
    orders: int
    returned: int
    return_rate: float
    reasons: list[tuple[str, int]]  # return reason codes, most frequent first
    lessons: int  # events of this draft type and subtype officers settled
    corrected: int  # … where they named another lead than the draft
    model_disagrees: int  # … where the current model would still pick another lead
    flagged: bool = False


def drift(store: EventStore, k: Knowledge, model: FeedbackModel | None) -> list[DriftRow]:
    """Return rates per department type and subtype with their top reasons, and where the
    drafts (and the current model) disagree with what officers settled on. A row is flagged
    when its return rate is at least twice the overall rate (and 20 % or more) with three
    returns or more, or when officers corrected its lead three times or more in a third of
    its events or more."""
    orders: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    outcomes = store.order_outcomes()
    for row in outcomes:
        kind = _type(k, row["lead_department"])
        if kind and row.get("subtype"):
            orders[(kind, row["subtype"])].append(row)
    lessons: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in collect(store, k, outcomes):
        lessons[(ex.drafted, ex.subtype)].append(ex)
    total = sum(len(v) for v in orders.values())
    returned_all = sum(r["status"] == "returned" for v in orders.values() for r in v)
    overall = returned_all / total if total else 0.0
    out = []
    for key in sorted(set(orders) | set(lessons)):
        rows, exs = orders.get(key, []), lessons.get(key, [])
        returned = [r for r in rows if r["status"] == "returned"]
        rate = len(returned) / len(rows) if rows else 0.0
        corrected = sum(ex.corrected for ex in exs)
        out.append(
            DriftRow(
                department_type=key[0],
                subtype=key[1],
                orders=len(rows),
                returned=len(returned),
                return_rate=round(rate, 4),
                reasons=Counter(r["return_reason_code"] or "-" for r in returned).most_common(3),
                lessons=len(exs),
                corrected=corrected,
                model_disagrees=sum(predict(model, ex) != ex.label for ex in exs),
                flagged=(len(returned) >= 3 and rate >= max(2 * overall, 0.2))
                or (corrected >= 3 and corrected >= len(exs) / 3),
            )
        )
    return sorted(out, key=lambda r: (not r.flagged, -r.return_rate, -r.orders))


@dataclass
class Retrained:
    """What ``retrain`` did: the comparison on held-out lessons and whether the new model is
    now the one routing uses."""

    comparison: Comparison
    promoted: bool
    version: str | None  # the saved version (trained on every lesson) when promoted
    previous: str | None  # the version that was current before
    examples: int
    corrections: int


def retrain(
    store: EventStore,
    k: Knowledge,
    models_dir: Path,
    *,
    holdout: float = 0.2,
    force: bool = False,
    dry_run: bool = False,
) -> Retrained:
    """Learn from every lesson in the store. A candidate trained on the earlier lessons is
    compared with the rules alone and with the current model on the latest ``holdout`` share;
    it becomes current (retrained on every lesson, the earlier version kept on disk) only if it
    is at least as accurate as the current model, or when ``force``."""
    from agents.errors import TrainingError

    examples = collect(store, k)
    corrections = sum(ex.corrected for ex in examples)
    if corrections < MIN_CORRECTIONS:
        raise TrainingError(
            f"纠正样本不足：库中只有 {corrections} 条改派或改主办的纠正（至少需要 {MIN_CORRECTIONS} 条），"
            "暂不训练"
        )
    learn, heldout = split(examples, holdout)
    current = FeedbackModel.load(models_dir)
    candidate = FeedbackModel.train(learn)
    models: dict[str, FeedbackModel | None] = {"规则": None}
    if current is not None:
        models["当前模型"] = current
    models["新模型"] = candidate
    comparison = compare(models, heldout)
    bar = comparison.overall.get("当前模型", comparison.overall["规则"])
    promoted = not dry_run and (force or comparison.overall["新模型"] >= bar)
    version = None
    if promoted:
        final = FeedbackModel.train(examples)
        final.meta["heldout"] = comparison.as_dict()
        final.meta["previous"] = current.version if current is not None else None
        final.save(models_dir)
        version = final.version
    return Retrained(
        comparison=comparison,
        promoted=promoted,
        version=version,
        previous=current.version if current is not None else None,
        examples=len(examples),
        corrections=corrections,
    )
