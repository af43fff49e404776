"""The confidence calibrated on real messages and the needs_human threshold chosen on them: the
choice itself, and its wiring into the classifier and the intake agent's context."""

from __future__ import annotations

import numpy as np
import pytest

from agents import classifier
from agents.classifier import SubtypeClassifier, confidence_calibration
from agents.state import TriageContext
from evals.calibration import choose_threshold, fit_isotonic
from knowledge import Knowledge


def test_the_threshold_minimises_the_stated_cost() -> None:
    # confident cases are right, unsure ones mostly wrong: the cut lies between them
    confidence = [0.9] * 6 + [0.5] * 4 + [0.2] * 10
    correct = [True] * 6 + [True, True, True, False] + [False] * 8 + [True] * 2
    chosen = choose_threshold(confidence, correct, cost_ratio=3.0)
    # 1 error × 3 + 10 checks = 13 at 0.21; 14 checks at 0.51; 8 errors × 3 = 24 at 0
    assert chosen["threshold"] == 0.21  # the lowest threshold that leaves out the 0.2 cases
    assert chosen["accepted_share"] == 0.5 and chosen["accepted_accuracy"] == 0.9
    assert chosen["cost_per_case"] == pytest.approx(13 / 20)
    # errors cheap: everything is accepted
    assert choose_threshold(confidence, correct, cost_ratio=0.5)["threshold"] == 0.0


def test_isotonic_map_is_non_decreasing() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 200)
    correct = rng.uniform(0, 1, 200) < conf * 0.7
    xs, ys = fit_isotonic(conf, correct)
    assert np.all(np.diff(ys) >= 0) and ys.max() <= 1.0 and np.all(np.diff(xs) >= 0)


@pytest.mark.filterwarnings("ignore:The least populated class")  # the prior's thin subtypes
def test_the_shipped_threshold_and_map_reach_the_agents(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    shipped = confidence_calibration()
    assert TriageContext().min_confidence == shipped["needs_human_below"]
    texts = ["井盖丢了", "井盖破损", "路灯不亮", "路灯坏了", "噪声扰民", "工地噪声"] * 3
    labels = ["CA04", "CA04", "CA03", "CA03", "EN02", "EN02"] * 3
    model = SubtypeClassifier.train(knowledge, texts, labels, source="t")
    raw = model.pipeline.predict_proba(["井盖不见了"])[0].max()
    model.scale, model.isotonic = 1.0, ([0.0, 1.0], [0.0, 0.5])  # a map that halves
    assert model.predict("井盖不见了").confidence == pytest.approx(raw / 2, abs=1e-3)
    model.isotonic = None
    assert model.predict("井盖不见了").confidence == pytest.approx(raw, abs=1e-3)
    # a file that says otherwise changes the context's threshold
    path = tmp_path / "confidence.yaml"  # type: ignore[operator]
    path.write_text("method: none\nneeds_human_below: 0.77\n", encoding="utf-8")
    monkeypatch.setattr(classifier, "CONFIDENCE_FILE", path)
    confidence_calibration.cache_clear()
    try:
        assert TriageContext().min_confidence == 0.77
    finally:
        monkeypatch.undo()
        confidence_calibration.cache_clear()
