"""The casebook: its shipped cases (Sanji's types derived from the writers' own, all 38
districts), the place names it leaves out, and verdicts that name their nearest precedents,
the same whether served one by one, primed for a batch, or from the saved model."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agents import casebook
from agents.casebook import (
    CASES,
    TARGET,
    CaseBook,
    _threshold,
    case_text,
    ensure_casebook,
    read_cases,
)
from agents.intake import judged_urgency
from domain.vocabulary import Urgency
from knowledge import Knowledge
from knowledge.data.labelled.build_cases import build, with_readers


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return read_cases()


@pytest.fixture(scope="module")
def book(knowledge: Knowledge, cases: list[dict]) -> CaseBook:
    return CaseBook.train(knowledge, cases)


def test_the_shipped_cases_rebuild_from_themselves(knowledge: Knowledge, cases: list[dict]) -> None:
    assert build(cases, knowledge) == cases  # lead_type follows from their_lead and the level
    assert len(cases) >= 2000 and len({c["id"] for c in cases}) == len(cases)
    assert Counter(c["level"] for c in cases).keys() == {"street", "district", "city"}
    assert {c["lead_type"] for c in cases} - {None} <= set(knowledge.department_types)
    placed = {c["district"] for c in cases if c["district"]}
    assert placed == {d.name for d in knowledge.districts()}
    assert {c["source"] for c in cases} >= {
        "hotline",
        "grid",
        "web",
        "referral",
        "sensor",
        "ai_video",
    }


def test_every_type_the_writers_used_has_a_counterpart(cases: list[dict]) -> None:
    """The property company, the telecom operators and the maritime authority were types the
    writers and readers used (about 250 readings) that Sanji lacked: those cases taught the
    level only. Every reading now teaches its lead type too."""
    readings = [r for c in cases for r in (c, c["reader"])]
    assert all(r["lead_type"] for r in readings)
    taught = Counter(r["lead_type"] for r in readings)
    assert taught["property_company"] > 100 and taught["maritime"] > 20


def test_every_case_has_a_blind_second_reading(knowledge: Knowledge, cases: list[dict]) -> None:
    readers = [c["reader"] for c in cases]
    assert all(r["level"] in ("street", "district", "city") for r in readers)
    assert {r["lead_type"] for r in readers} - {None} <= set(knowledge.department_types)
    agree = sum(r["level"] == c["level"] for r, c in zip(readers, cases, strict=True))
    assert 0.8 < agree / len(cases) < 0.95  # two people, not one label copied
    raw = [{**c, "reader": None} for c in cases[:2]]
    read = with_readers(
        raw,
        [
            {
                "id": cases[0]["id"],
                "level": "city",
                "lead": "市公安局",
                "assisting": [],
                "urgency": "urgent",
                "confidence": "sure",
            }
        ],
    )
    built = build(read, knowledge)
    assert built[0]["reader"]["lead_type"] == "public_security" and "reader" not in built[1]
    with pytest.raises(ValueError, match="不存在的案例"):
        with_readers(raw, [{"id": "no-such-case", "level": "city", "lead": "派出所"}])


def test_place_names_are_left_out_but_river_bridges_and_rail_lines_stay(
    knowledge: Knowledge,
) -> None:
    read = case_text("渝中区解放碑步行街有人摆摊卖水果", "南岸区南坪街道", knowledge)
    assert "解放碑" not in read and "渝中" not in read and "南坪" not in read
    assert "摆摊卖水果" in read
    bridge = case_text("千厮门嘉陵江大桥人行道护栏松动", "轨道交通2号线李子坝站", knowledge)
    assert "千厮门嘉陵江大桥" in bridge and "轨道交通2号线" in bridge
    assert case_text("路灯不亮", None) == "路灯不亮"  # without knowledge: as given


def test_a_verdict_names_its_nearest_precedents(book: CaseBook, cases: list[dict]) -> None:
    case = cases[123]
    verdict = book.verdict(case["text"], case["address"])
    assert verdict.level in ("street", "district", "city")
    assert verdict.level_margin >= 0 and verdict.lead_margin >= 0
    nearest = verdict.precedents[0]
    assert nearest.id == case["id"] and nearest.similarity == pytest.approx(1.0, abs=1e-3)
    sims = [p.similarity for p in verdict.precedents]
    assert sims == sorted(sims, reverse=True) and len(sims) == 3


def test_verdicts_are_the_same_primed_saved_and_one_by_one(
    tmp_path: Path,
    knowledge: Knowledge,
    book: CaseBook,
    cases: list[dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = [(c["text"], c["address"]) for c in cases[::250]]
    alone = [book.verdict(t, a) for t, a in pairs]
    # asked again (intake, then routing, for one draft): served, not recomputed
    with monkeypatch.context() as m:
        m.setattr(book, "_verdicts", lambda keys: pytest.fail("recomputed"))
        assert book.verdict(*pairs[-1]) is alone[-1]
    with book.primed(pairs):
        assert len(book._primed) == len(set(pairs))
        monkeypatch.setattr(book, "_verdicts", lambda keys: pytest.fail("not served primed"))
        assert [book.verdict(t, a) for t, a in pairs] == alone
        monkeypatch.undo()
    assert book._primed == {}
    saved = ensure_casebook(knowledge, tmp_path / "models", CASES)
    assert saved.version == book.version
    assert [saved.verdict(t, a) for t, a in pairs] == alone
    assert not [p for p in (tmp_path / "models").iterdir() if ".part-" in p.name]

    def retrain(*args: object) -> CaseBook:
        raise AssertionError("the cached model was not used")

    monkeypatch.setattr(CaseBook, "train", classmethod(retrain))
    monkeypatch.setattr(casebook, "_TRAINED", {})  # not this process's copy: the saved file
    again = ensure_casebook(knowledge, tmp_path / "models", CASES)  # loaded, not retrained
    assert [again.verdict(t, a) for t, a in pairs] == alone


def test_the_threshold_is_the_lowest_confidence_whose_accepted_verdicts_reach_the_target() -> None:
    p = np.array([0.95, 0.9, 0.8, 0.6, 0.4, 0.3])
    right = np.array([True, True, True, False, True, False])
    assert _threshold(p, right, 0.75) == pytest.approx(0.4)  # 4 of the 5 accepted are right
    assert _threshold(p, right, 0.95) == pytest.approx(0.8)
    assert _threshold(p, np.zeros(6, dtype=bool), 0.5) == 1.0  # never: every verdict checked
    # a constant confidence that does not reach the target: every verdict is checked
    assert _threshold(np.full(3, 2 / 3), np.array([True, True, False]), 0.9) == 1.0


def test_verdicts_are_calibrated_and_a_vague_report_is_left_to_an_officer(
    book: CaseBook,
) -> None:
    for part, target in TARGET.items():
        threshold, held_out = book.meta["thresholds"][part], book.meta["out_of_fold"][part]
        assert 0.0 < threshold < 1.0
        # the verdicts taken alone reach the target on writers the model did not see
        assert held_out["accepted_accuracy"] >= target
        assert 0.5 < held_out["accepted"] < 1.0
    clear = book.verdict("解放碑八一路好吃街有人占道摆摊卖烧烤，油烟很大，行人走不过", None)
    vague = book.verdict("有个事情想反映一下，麻烦处理", None)
    assert clear.unsure == () and clear.lead_confidence > vague.lead_confidence
    assert "lead" in vague.unsure
    note = vague.as_note(book.k)
    assert note["unsure"] == list(vague.unsure)
    assert note["confidence"]["lead_type"] == pytest.approx(vague.lead_confidence, abs=1e-3)


@pytest.mark.parametrize(
    ("ruled", "learned", "floor", "judged"),
    [
        ("normal", "urgent", "normal", "urgent"),  # like events were urgent
        ("urgent", "normal", "normal", "normal"),  # …or not
        ("critical", "normal", "normal", "critical"),  # the rules' critical stands
        ("urgent", "normal", "urgent", "urgent"),  # so does a device's alarm rule
    ],
)
def test_judged_urgency(ruled: str, learned: str, floor: str, judged: str) -> None:
    assert judged_urgency(Urgency(ruled), Urgency(learned), Urgency(floor)) is Urgency(judged)


def test_a_saved_casebook_that_cannot_be_read_is_made_again(
    tmp_path: Path,
    knowledge: Knowledge,
    book: CaseBook,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A model file cut short or written by an older version: the casebook is made again (here
    from this process's trained copy) instead of failing every draft."""
    models = tmp_path / "models"
    models.mkdir()
    (models / f"casebook-{book.version}.json").write_text("{}", encoding="utf-8")
    (models / f"casebook-{book.version}.joblib").write_bytes(b"\x80\x04not a pickle")
    monkeypatch.setattr(casebook, "_TRAINED", {book.version: book})
    with caplog.at_level("WARNING", logger="agents.casebook"):
        again = ensure_casebook(knowledge, models, CASES)
    assert "cannot be read" in caplog.text
    assert again.version == book.version
    assert CaseBook.load(models, book.version, knowledge) is not None  # saved whole again
