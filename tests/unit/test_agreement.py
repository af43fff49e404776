"""The agreement study's arithmetic (Cohen's kappa, the majority of three, leave one out) on
small hand-worked cases, and the second readers' files: one label per event of both
independent sets, in the writers' vocabulary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.agreement import Agreement, kappa, majority, score_set
from evals.typed_gold import TypeMap

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT / "evals" / "datasets"
READERS = sorted((DATASETS / "second-readers").glob("reader-*.jsonl"))
SETS = [
    DATASETS / "independent" / "independent-golden.jsonl",
    DATASETS / "independent-2" / "independent-golden-2.jsonl",
]


def test_kappa_is_one_for_equal_raters_and_zero_at_chance() -> None:
    assert kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    # each rater says a half the time, independently of the other: observed 0.5 = expected
    assert kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == 0.0
    # worked by hand: observed 0.75, expected (3·2 + 1·2)/16 = 0.5, kappa 0.5
    assert kappa(["a", "a", "a", "b"], ["a", "a", "b", "b"]) == 0.5


def test_a_lead_matches_through_the_type_map_as_sanjis_does() -> None:
    agree = Agreement(
        TypeMap(
            "t",
            {
                "派出所": frozenset({"police_station"}),
                "区公安分局": frozenset({"public_security"}),
                "交巡警": frozenset({"traffic_police", "traffic_patrol"}),
                "交巡警平台": frozenset({"traffic_patrol"}),
            },
        )
    )
    assert agree.same("lead", "交巡警", "交巡警平台")  # share traffic_patrol
    assert not agree.same("lead", "交巡警", "交巡警平台", exact=True)
    assert not agree.same("lead", "派出所", "区公安分局")
    assert agree.sanji("lead", {"lead_type": "traffic_patrol"}, "交巡警")
    assert not agree.sanji("level", {"level": "district"}, "street")
    assert majority(["派出所", "区公安分局", "派出所"], lambda a, b: a == b) == "派出所"
    assert majority(["a", "b", "c"], lambda a, b: a == b) is None


def test_leave_one_out_scores_each_human_where_the_other_two_agree() -> None:
    agree = Agreement(TypeMap("t", {"x": frozenset({"x"}), "y": frozenset({"y"})}))
    ids = ["1", "2", "3"]

    def labels(*levels: str) -> dict[str, dict[str, str]]:
        return {
            i: {"level": v, "lead": "x", "urgency": "normal"}
            for i, v in zip(ids, levels, strict=True)
        }

    humans = {
        "writer": labels("street", "street", "city"),
        "a": labels("street", "district", "city"),
        "b": labels("street", "street", "district"),
    }
    drafts = {i: {"level": "street", "lead_type": "x", "urgency": "normal"} for i in ids}
    out = score_set(ids, humans, drafts, labels("city", "city", "city"), agree)["level"]
    # event 1: all agree, each human is scored (right); event 2: only a is scored (writer and b
    # agree on street, a said district); event 3: only b is scored (writer and a say city)
    loo = out["leave_one_out"]
    assert loo["human"] == {"n": 5, "rate": round(3 / 5, 3)}
    assert loo["sanji"] == {"n": 5, "rate": round(4 / 5, 3)}
    assert loo["baseline"] == {"n": 5, "rate": round(1 / 5, 3)}
    assert out["sanji"]["unanimous"] == {"n": 1, "rate": 1.0}
    assert out["pairs"]["writer~a"]["rate"] == round(2 / 3, 3)


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.stem)
def test_each_reader_labelled_every_event_of_both_sets_in_the_vocabulary(path: Path) -> None:
    vocab_file = DATASETS / "independent" / "department-types.md"
    vocab = set(re.findall(r"^\| ([^ |]+) \| ", vocab_file.read_text("utf-8"), re.M)) - {"type"}
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
    events = {json.loads(x)["id"] for s in SETS for x in s.read_text("utf-8").splitlines() if x}
    assert len(rows) == len(events) and {r["id"] for r in rows} == events
    for r in rows:
        assert r["level"] in ("street", "district", "city"), r["id"]
        assert r["urgency"] in ("normal", "urgent", "critical"), r["id"]
        assert {r["lead"], *r["assisting"]} <= vocab, r["id"]
        assert r["confidence"] in ("sure", "unsure"), r["id"]
